"""Building blocks that know nothing about experiments: Gabor banks, difference-of-Gaussians, locally
connected layers, divisive normalization, the polar (cortical magnification) transform, k-winners-take-all.
Written by hand; import the blocks from their modules (`neuronb.nn.gabor`, ...)."""
