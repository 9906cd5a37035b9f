"Architectures and the model registry: `create(name, num_classes, **kw)`, `list_models()`."
from neuronb.models.registry import MODELS, create, layer_names, list_models, num_parameters, register_model, region_layers
from neuronb.models import backbones, resnet, split_resnet  # noqa: F401  (registration side effects)
