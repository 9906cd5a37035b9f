"""Datasets: one registry (`get_dataset`, `list_datasets`), offline generators, readers of on-disk formats,
batched augmentation and corruptions. Written by hand.

Every module of this package registers its datasets when imported; importing `neuronb.data` imports all of
them, so `get_dataset(name)` knows every dataset without a list to keep up to date here."""
import importlib as _importlib
import pkgutil as _pkgutil

from neuronb.data.core import (DATASETS, FileImageDataset, ImageSet, cached_generate, get_dataset, list_datasets,
                               read_image, register_dataset)

for _module in sorted(m.name for m in _pkgutil.iter_modules(__path__)):
    _importlib.import_module(f"{__name__}.{_module}")
