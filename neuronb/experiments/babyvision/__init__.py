"""Self-supervised learning through the eyes of a child (Orhan, Gupta & Lake, NeurIPS 2020): temporal
classification and static / temporal MoCo on headcam frames. Written by hand: re-exports the public
names of the modules exported from `nbs/62_babyvision_temporal.ipynb` and `nbs/63_babyvision_moco.ipynb`."""
from neuronb.experiments.babyvision.temporal import (BACKBONES, NARROW_BACKBONES, TEMPORAL_PRESETS,  # noqa: F401
                                                     TemporalConfig, backbone, build_temporal_trainer, head_name, n_classes,
                                                     head_name_from_state, load_temporal_data, load_temporal_run,
                                                     temporal_augment, temporal_preset, train_temporal)
from neuronb.experiments.babyvision.moco import (MOCO_MODES, MoCo, MoCoConfig, MoCoStep, TemporalPairs,  # noqa: F401
                                                 add_mlp_head, build_moco, build_moco_trainer, load_backbone_weights,
                                                 moco_augmentation, moco_preset, original_moco_checkpoint,
                                                 original_tc_checkpoint, pair_frames, read_original_state_dict,
                                                 temporal_partners, train_moco, two_view_augment)
