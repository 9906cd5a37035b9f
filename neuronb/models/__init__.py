"Architectures and the model registry: `create(name, num_classes, **kw)`, `list_models()`."
from neuronb.models.registry import MODELS, create, list_models, register_model, region_layers
from neuronb.models import resnet, backbones  # noqa: F401  (registration side effects)
