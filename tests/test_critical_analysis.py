"Bad input to the critical-period analyses (sensor variance, usable information, deep-linear theory) gets clear errors."
import numpy as np
import pytest
import torch
from torch import nn

from neuronb.analysis.information import usable_information
from neuronb.analysis.sensor_variance import RunningVariance, SensorVariance, sensor_variance
from neuronb.data.core import ImageSet
from neuronb.experiments.critical.theory import TwoSourceTask, hierarchical_correlation, simulate_deficits


class TwoSensor(nn.Module):
    def __init__(self):
        super().__init__()
        self.read_a, self.read_b = nn.Linear(4, 3), nn.Linear(4, 3)
        self.merge = nn.Identity()

    def forward(self, x_a, x_b):
        return self.merge(self.read_a(x_a) + self.read_b(x_b))


class OneInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)

    def forward(self, x):
        return self.body(x)


def halves(images):
    x_a, x_b = images.clone(), images.clone()
    x_a[..., 2:] = 0
    x_b[..., :2] = 0
    return x_a, x_b


@pytest.fixture
def pairs():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(40, 4, generator=generator), torch.randn(40, 4, generator=generator)


def test_sensor_variance_unknown_layer_names_close_matches(pairs):
    with pytest.raises(ValueError, match=r"no layer 'mrege'.*'merge'"):
        sensor_variance(TwoSensor(), "mrege", pairs, batch_size=10)


def test_sensor_variance_mismatched_and_malformed_inputs(pairs):
    x_a, x_b = pairs
    with pytest.raises(ValueError, match="40 vs 39 samples"):
        sensor_variance(TwoSensor(), "merge", (x_a, x_b[:-1]), batch_size=10)
    with pytest.raises(TypeError, match="pair \\(x_a, x_b\\)"):
        sensor_variance(TwoSensor(), "merge", x_a, batch_size=10)
    with pytest.raises(TypeError, match="floating-point"):
        sensor_variance(TwoSensor(), "merge", (x_a.long(), x_b), batch_size=10)
    with pytest.raises(ValueError, match="at least 2 full batches"):
        sensor_variance(TwoSensor(), "merge", pairs, batch_size=30)
    with pytest.raises(ValueError, match="n_batches must be an int >= 2"):
        sensor_variance(TwoSensor(), "merge", pairs, batch_size=10, n_batches=1)
    with pytest.raises(ValueError, match="fixed_batch=4"):
        sensor_variance(TwoSensor(), "merge", pairs, batch_size=10, fixed_batch=4)
    with pytest.raises(ValueError, match="reduce must be"):
        sensor_variance(TwoSensor(), "merge", pairs, batch_size=10, reduce="max")


def test_sensor_variance_split_errors_and_one_input_model():
    images = ImageSet(torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8), {"y": torch.zeros(40)})
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))

    class ConvTwo(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x_a, x_b):
            return self.conv(x_a + x_b)

    with pytest.raises(TypeError, match="pair of tensors"):
        sensor_variance(ConvTwo(), "conv", images, lambda x: x, batch_size=10)
    with pytest.raises(ValueError, match="split returned 5 and 10 samples for a batch of 10"):
        sensor_variance(ConvTwo(), "conv", images, lambda x: (x[:5], x), batch_size=10)
    with pytest.raises(TypeError, match="split must be a function"):
        sensor_variance(ConvTwo(), "conv", images, "left-right", batch_size=10)
    with pytest.raises(TypeError, match="calls model\\(x_a, x_b\\)"):
        sensor_variance(OneInput(), "body", (torch.randn(20, 4), torch.randn(20, 4)), batch_size=10)


def test_sensor_variance_sign_and_state_restored(pairs):
    model = TwoSensor()
    result = sensor_variance(model, ["read_a", "read_b", "merge"], pairs, batch_size=10)
    assert (result["read_a"].values() == 1).all() and (result["read_b"].values() == -1).all()
    assert result["merge"].var_due_to_a.shape == (10, 3) and model.training


def test_running_and_result_shapes_must_agree():
    running = RunningVariance().add(torch.zeros(3))
    with pytest.raises(ValueError, match="\\(2, 3\\) does not match the running shape \\(3,\\)"):
        running.add(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="too few for ddof=1"):
        running.variance(ddof=1)
    with pytest.raises(ValueError, match="differ in shape"):
        SensorVariance("x", torch.zeros(2, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 5)
    with pytest.raises(ValueError, match="threshold must be in"):
        SensorVariance("x", torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 5).summary(threshold=1.5)


def test_usable_information_bad_inputs(pairs):
    x_a, x_b = pairs
    labels = torch.randint(0, 3, (40,))
    with pytest.raises(ValueError, match="one entry per sample: 40, 40, 39"):
        usable_information(TwoSensor(), (x_a, x_b, labels[:-1]))
    with pytest.raises(ValueError, match="1-D integer tensor"):
        usable_information(TwoSensor(), (x_a, x_b, labels.float()))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        usable_information(TwoSensor(), (x_a, x_b, labels + 3))
    images = ImageSet(torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8), {"coarse": labels, "fine": labels})
    with pytest.raises(ValueError, match="name one with label="):
        usable_information(TwoSensor(), images, halves)
    with pytest.raises(KeyError, match="no label 'colour'"):
        usable_information(TwoSensor(), images, halves, label="colour")


def test_theory_bad_inputs():
    task = TwoSourceTask(hierarchical_correlation())
    with pytest.raises(ValueError, match="depth must be an int >= 1"):
        simulate_deficits(task, 0, [0.0])
    with pytest.raises(ValueError, match="deficit_times must be a non-empty list"):
        simulate_deficits(task, 2, [])
    with pytest.raises(ValueError, match=r"W must be \(\.\.\., 7, 8\)"):
        task.loss(np.zeros((7, 4)))
    with pytest.raises(ValueError, match="2-D"):
        TwoSourceTask(np.ones(4))
