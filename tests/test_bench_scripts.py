"The measuring scripts under scripts/: what they read off a model and what they time."
import importlib.util
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from neuronb.models import create


def load_script(name: str):
    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conv_layers = load_script("bench_conv_layers")


def test_conv_shapes_are_the_cifar_resnets_stages():
    # the stem, then one 3x3 stride-1 shape per stage: channels doubling as the maps halve
    shapes = conv_layers.conv_shapes(create("resnet18_cifar", num_classes=10, width=0.5), 32)
    assert shapes == [(3, 32, 32), (32, 32, 32), (64, 64, 16), (128, 128, 8), (256, 256, 4)]


def test_conv_shapes_skip_strided_grouped_and_other_kernels():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                          nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.Conv2d(8, 4, 1), nn.Conv2d(4, 4, 3, padding=1))
    assert conv_layers.conv_shapes(model, 16) == [(3, 8, 16), (4, 4, 8)]


def test_conv_layer_rates_time_each_pass():
    rates = conv_layers.conv_layer_rates((8, 8, 8), batch_size=4)
    assert set(rates) == {"forward", "input gradient", "weight gradient"}
    assert all(math.isfinite(r) and r > 0 for r in rates.values())


def test_best_ms_is_the_fastest_call(monkeypatch):
    clock = iter([0, 5, 10, 11, 20, 23])        # perf_counter readings (ms) around the timed calls: 5, 1 and 3 ms
    monkeypatch.setattr(conv_layers.time, "perf_counter", lambda: next(clock) / 1000)
    calls = []
    assert conv_layers.best_ms(lambda: calls.append(1), repeats=3) == pytest.approx(1.0)
    assert len(calls) == 5                      # two untimed warm-up calls, then the three timed


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        conv_layers.main(["--steps", "0"])
    assert exit_info.value.code == 2 and "--steps" in capsys.readouterr().err
