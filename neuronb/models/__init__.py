"""Architectures and the model registry: `create(name, num_classes, **kw)`, `list_models()`. Written by hand.

Every module of this package registers its architectures when imported; importing `neuronb.models`
imports all of them, so `create(name)` knows every model without a list to keep up to date here."""
import importlib as _importlib
import pkgutil as _pkgutil

from neuronb.models.registry import MODELS, create, layer_names, list_models, num_parameters, register_model, region_layers

for _module in sorted(m.name for m in _pkgutil.iter_modules(__path__)):
    _importlib.import_module(f"{__name__}.{_module}")
