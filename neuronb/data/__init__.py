"Datasets: one registry (`get_dataset`, `list_datasets`), offline generators, readers of on-disk formats, batched augmentation."
# Importing the modules registers their datasets.
from neuronb.data.core import (DATASETS, FileImageDataset, ImageSet, cached_generate, get_dataset, list_datasets,
                               read_image, register_dataset)
from neuronb.data import augment, formats, synthetic, video  # noqa: F401  (registration side effects)
