"""A notebook-first analysis suite for NeuroAI vision research

Modules:

- `neuronb.analysis.behavior`: Image-level behavioural consistency in the style of Rajalingham et al. 2018 (Brain-Score's `dicarlo.Rajalingham2018-i2n`): a cross-validated logistic readout of any model layer, per-image one-vs-distractor performance, the i1n and i2n signatures, consistency with behavioural data corrected by the split-half reliabilities of both, behavioural data in NPZ or NetCDF, and a surrogate subject to check it offline.
- `neuronb.experiments.critical.protocols`: The critical-period protocols as functions of a config: one training run with sensors and a deficit, the deficit-removal sweep (the critical-period curve) and window sensitivity. Every run goes through the foundation's `Trainer`; the protocols only compose callbacks, checkpoints and resumes.
- `neuronb.experiments.wiring.initialization`: "At birth" weights for Wiring Up Vision: Kaiming normal, per-kernel and per-layer normals, Gabor initialisation (Gabor fits + a Gaussian mixture chosen by BIC) and cluster initialisation (the paper's weight compression), computed from any trained model, stored as small JSON files and applied to CORnet-S or to transfer targets.
- `neuronb.train`: The one training engine of neuronb: a loop you can read top to bottom, fast by default (bf16 autocast and channels_last where the hardware supports them, data on the device as uint8 tensors, augmentation batched on the device), with schedules, several heads, per-epoch callbacks, freezing by name, exact checkpoint/resume and metrics to the run store.
- `neuronb.widgets.critical`: The deficit explorer: choose a deficit, its strength, the sensors' view size and an epoch, and see the two inputs the network receives then; where sweeps are in the run store, see the critical-period curve and the sensor-variance histogram for the chosen deficit length. ipywidgets for JupyterLab, and the same exploration as a plotly figure with a slider for the offline HTML reports."""

__version__ = "0.1.0"
