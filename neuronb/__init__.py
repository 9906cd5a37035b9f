"""A notebook-first analysis suite for NeuroAI vision research

Modules:

- `neuronb.experiments.critical.protocols`: The critical-period protocols as functions of a config: one training run with sensors and a deficit, the deficit-removal sweep (the critical-period curve) and window sensitivity. Every run goes through the foundation's `Trainer`; the protocols only compose callbacks, checkpoints and resumes.
- `neuronb.train`: The one training engine of neuronb: a loop you can read top to bottom, fast by default (bf16 autocast and channels_last where the hardware supports them, data on the device as uint8 tensors, augmentation batched on the device), with schedules, several heads, per-epoch callbacks, freezing by name, exact checkpoint/resume and metrics to the run store."""

__version__ = "0.1.0"
