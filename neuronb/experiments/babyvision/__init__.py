"""Self-supervised learning through the eyes of a child (Orhan, Gupta & Lake, NeurIPS 2020): temporal
classification and static / temporal MoCo on headcam frames, and the analyses of the learned
backbones (linear decoding, attention maps, selectivity). Written by hand: re-exports the public names
of the modules exported from `nbs/62_babyvision_temporal.ipynb`, `nbs/63_babyvision_moco.ipynb` and
`nbs/66b_babyvision_analyses.ipynb`; importing it registers the protocols `babyvision.temporal`,
`babyvision.moco`, `babyvision.probe`, `babyvision.maps` and `babyvision.selectivity`."""
from neuronb.experiments.babyvision.temporal import (BACKBONES, NARROW_BACKBONES, PreciseBN,  # noqa: F401
                                                     TemporalConfig, backbone, head_name,
                                                     temporal_augment, train_temporal)
from neuronb.experiments.babyvision.moco import (MOCO_MODES, MoCo, MoCoConfig, MoCoStep, TemporalPairs,  # noqa: F401
                                                 add_mlp_head, build_moco, load_backbone_weights, load_moco_encoder,
                                                 moco_augmentation, moco_trainer, original_moco_checkpoint,
                                                 original_tc_checkpoint, pair_frames, read_original_state_dict,
                                                 temporal_partners, train_moco, two_view_augment)
from neuronb.experiments.babyvision.analyses import (AnalysisConfig, MapsConfig, ProbeConfig,  # noqa: F401
                                                     SelectivityConfig, analysis_data, finish_analysis, most_selective,
                                                     run_maps, run_probe, run_selectivity, source_model, source_models)
