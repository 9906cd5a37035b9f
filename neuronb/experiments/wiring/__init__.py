"""Wiring Up Vision (Geiger, Schrimpf, Marques & DiCarlo, ICLR 2022): "at birth" initialisations (Gabor, cluster /
weight compression, fitted normals), critical training, fewer supervised updates, and brain-benchmark scores.
Protocols `wiring.train`, `wiring.grid` and `wiring.score` (presets tiny / quick / paper) are registered on import.
Written by hand: re-exports the public names of the modules exported from `nbs/41-44c_*.ipynb`."""
from neuronb.models import cornet  # noqa: F401  (registers cornet_s / cornet_z)
from neuronb.models.cornet import (CORNET_REGIONS, CORNET_S_TIMES, TRANSFER_TARGETS, CORblockS, CORblockZ,  # noqa: F401
                                   CORnetS, CORnetZ, cornet_s, cornet_z, split_time_step, time_step_layers,
                                   transfer_layer_map)
from neuronb.experiments.wiring.initialization import (CORNET_S_CLUSTERS, GABOR_PARAMS, INIT_FORMAT,  # noqa: F401
                                                       INIT_METHODS, apply_init, compressed_size, compute_init,
                                                       conv_layers, decode_gabor_features, default_clusters,
                                                       fit_cluster_init, fit_gabor_init, fit_gabors, fit_layer,
                                                       fit_normal, gabor_bounds, gabor_features, kaiming_normal_init,
                                                       load_init, render_gabors, sample_cluster, sample_gabor,
                                                       sample_layer, sample_normal, save_init,
                                                       weight_compression_spec)
from neuronb.experiments.wiring.training import (FRACTIONS, TRAINED_LAYERS, Converged, FractionalCheckpoints,  # noqa: F401
                                                 StopAtLearningRate, WiringConfig, WiringGridConfig, born_model,
                                                 build_model, checkpoint_name, engine_config, grid_config, grid_spec,
                                                 saved_epochs, sized_config, supervised_updates, train_grid,
                                                 train_wiring,
                                                 trained_patterns, training_images)
from neuronb.experiments.wiring.scores import (MODEL_PARAMETER_COLUMNS, MODEL_PARAMETER_DDL, RAW_SCORE_COLUMNS,  # noqa: F401
                                               RAW_SCORES_DDL, WiringScoreConfig, brain_predictivity, export_scores,
                                               held_out_images,
                                               import_scores, model_parameters_from_store, parse_identifier,
                                               read_score_file, score_model, score_run, top1_accuracy,
                                               trained_fractions)
from neuronb.experiments.wiring.study import surrogate_wiring_study  # noqa: F401
