"Smoke tests of the model registry, the foundation's models and layer-activation extraction (library code)."
import numpy as np
import pytest
import torch
from torch import nn

from neuronb.analysis.features import extract_features, layer_output_shapes
from neuronb.models import create, list_models, region_layers
from neuronb.models.registry import num_parameters


@pytest.mark.parametrize("name", ["resnet18_cifar", "resnet50", "resnext50_32x4d", "mobilenet_v2", "vgg11"])
def test_every_model_builds_and_maps_regions(name):
    options = {} if name == "resnet18_cifar" else {"small_input": True}
    model = create(name, num_classes=4, width=0.25, **options).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    assert set(region_layers(model)) == {"V1", "V2", "V4", "IT"}
    assert set(layer_output_shapes(model, (1, 3, 32, 32), region_layers(model))) == {"V1", "V2", "V4", "IT"}


def test_registry_errors_and_counts():
    assert "resnet18_cifar" in list_models() and list_models("resnet*") == ["resnet18_cifar", "resnet50"]
    assert num_parameters(create("resnet18_cifar")) == 11_173_962
    with pytest.raises(KeyError, match="resnet18_cifar"):
        create("resnet19_cifar")
    with pytest.raises(TypeError, match="widht"):
        create("resnet18_cifar", widht=0.5)


class _Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.step = nn.Identity()

    def forward(self, x):
        return self.step(self.step(x) * 2)


def test_extract_features_recurrent_and_disk(tmp_path):
    x = torch.randn(9, 3, 4, 4)
    in_memory = extract_features(_Twice(), x, "step", batch_size=4, device="cpu")
    assert torch.equal(in_memory["step-t0"], x.flatten(1)) and torch.equal(in_memory["step-t1"], 2 * x.flatten(1))
    on_disk = extract_features(_Twice(), iter([x[:5], x[5:]]), "step", out_dir=tmp_path, device="cpu")
    assert np.array_equal(on_disk["step-t1"], in_memory["step-t1"].numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-t0.npy", "step-t1.npy"]
    pooled = extract_features(_Twice(), x, "step", reduce="avgpool", device="cpu")
    assert torch.allclose(pooled["step-t0"], x.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="'step'"):
        extract_features(_Twice(), x, "stp")
