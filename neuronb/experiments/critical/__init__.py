"""Critical learning periods for multisensory integration (Kleinman, Achille & Soatto, CVPR 2023):
two-sensor inputs, deficits as training callbacks, schedules, and the protocols `critical.train`,
`critical.removal`, `critical.windows`, `critical.variance` and `critical.recovery` (registered on import). Written by hand:
re-exports the public names of the modules exported from the notebooks `nbs/2*_critical_*.ipynb`."""
from neuronb.models import split_resnet  # noqa: F401  (importing neuronb.models registers the two-sensor models)
from neuronb.experiments.critical.sensors import (CIFAR_MEAN, CIFAR_STD, SENSORS, Blur, ColourLuminanceSplit,
                                                  ContrastLoss, Deficit, FieldOfViewSplit, IndependentSensors, Noise,
                                                  SensorDeficit, SensorDropout, SensorHeadsLoss, SensorInputs, Sensors,
                                                  check_window, colour_luminance_split, left_right_split,
                                                  original_lr_schedule, original_window, paper_train_config,
                                                  scale_schedule, sensor_head_labels, sensor_index, top_bottom_split)
from neuronb.experiments.critical.theory import (DeficitRuns, TwoSourceTask, critical_period_table,  # noqa: F401
                                                 deep_mode_strength, hierarchical_correlation, plot_critical_period,
                                                 plot_route_dynamics, shallow_mode_strength, simulate_deficits)
from neuronb.experiments.critical.protocols import (DEFICITS, SIZES, SPLITS, TRAIN_KINDS,  # noqa: F401
                                                    CriticalConfig, RecoveryConfig, RemovalConfig, SensorVarianceConfig,
                                                    TrackUsableInformation, WindowConfig, cached_sensor_variance,
                                                    critical_callbacks, critical_preset, critical_trainer_kw,
                                                    deficit_recovery, deficit_removal_sweep, load_critical_model,
                                                    measure_sensor_variance, probe_stage, recovery_folder,
                                                    recovery_verdict, relative_variance, removal_sweeps,
                                                    sensor_variance_of_run, sensor_views, single_run, train_critical,
                                                    train_inner_run, window_sensitivity)
