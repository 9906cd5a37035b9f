"Errors and edge cases of the two-sensor models, sensor splits and deficits not covered in nbs/20-21."
import re

import pytest
import torch

from neuronb.experiments.critical import (Blur, ContrastLoss, IndependentSensors, Noise, SensorDropout, SensorHeadsLoss,
                                          Sensors, check_window, left_right_split, original_window, paper_train_config,
                                          scale_schedule, top_bottom_split)
from neuronb.models import create
from neuronb.train import Batch


@pytest.mark.parametrize("make", [left_right_split, top_bottom_split])
@pytest.mark.parametrize("bad", [0, -1, 3.5, "16", None, True])
def test_view_size_type_and_lower_bound(make, bad):
    with pytest.raises(ValueError, match=r"view_size must be an int >= 1"):
        make(bad)


def test_view_size_larger_than_image_names_parameter_and_range():
    x = torch.zeros(2, 3, 32, 24)
    with pytest.raises(ValueError, match=re.escape("left_right_split: view_size=25 is outside the allowed range 1..24")):
        left_right_split(25)(x)
    with pytest.raises(ValueError, match=re.escape("top_bottom_split: view_size=33 is outside the allowed range 1..32")):
        top_bottom_split(33)(x)
    # the limits themselves are fine
    assert all(torch.equal(v, x) for v in left_right_split(24)(x))
    assert left_right_split(1)(x)[0].shape == x.shape


def test_view_size_checked_inside_the_sensors_callback():
    sensors = Sensors(left_right_split(40))
    with pytest.raises(ValueError, match=r"view_size=40 .* 1\.\.32"):
        sensors.on_eval_batch(None, Batch(torch.zeros(1, 3, 32, 32), {}))


@pytest.mark.parametrize("start,end,word", [(-1, 80, "start"), (1.5, 4, "start"), (None, 4, "start"),
                                            (5, 5, "end"), (5, 2, "end"), (0, 3.0, "end"), (True, 3, "start")])
def test_bad_deficit_window(start, end, word):
    with pytest.raises(ValueError, match=word):
        check_window(start, end)
    for deficit in (Blur, Noise, ContrastLoss, IndependentSensors, SensorDropout):
        with pytest.raises(ValueError, match=word):
            deficit(start=start, end=end)


def test_negative_start_points_to_the_original_conversion():
    with pytest.raises(ValueError, match="original_window"):
        Blur(start=-1, end=80)
    blur = Blur.from_original(-1, 80)
    assert (blur.start, blur.end) == (0, 80)
    assert [e for e in range(100) if blur.active_at(e)] == [e for e in range(100) if -1 < e < 80]


def test_empty_original_window_is_an_error_not_a_silent_no_op():
    with pytest.raises(ValueError, match="select no epoch"):
        original_window(10, 11)
    with pytest.raises(ValueError, match="select no epoch"):
        Noise.from_original(20, 5)
    assert original_window(None, None) == (0, None)


def test_with_window_validates_and_copies():
    blur = Blur(start=2, end=6)
    with pytest.raises(ValueError, match="end"):
        blur.with_window(4, 4)
    moved = blur.with_window(0, None)
    assert (moved.start, moved.end) == (0, None) and (blur.start, blur.end) == (2, 6)


@pytest.mark.parametrize("make,word", [(lambda: Blur(sensor="c"), "sensor"), (lambda: Blur(factor=0.5), "factor"),
                                       (lambda: Noise(std=-0.1), "std"), (lambda: ContrastLoss(factor=1.5), "factor"),
                                       (lambda: SensorDropout(p_a=0.6, p_b=0.6), "p_a"),
                                       (lambda: IndependentSensors(p_swap=2), "p_swap"),
                                       (lambda: IndependentSensors(heads=("left",)), "heads")])
def test_bad_deficit_parameters(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_deficit_before_sensors_is_caught():
    with pytest.raises(ValueError, match=r"Sensors\(split\) before it"):
        Blur().on_train_batch(None, Batch(torch.zeros(2, 3, 32, 32), {}))


def test_scale_schedule_rejects_bad_budgets():
    with pytest.raises(ValueError, match="epochs"):
        scale_schedule(paper_train_config(), 0)
    with pytest.raises(ValueError, match="config.epochs"):
        scale_schedule(paper_train_config(epochs=0), 10)


def test_models_by_name_and_their_errors():
    net = create("split_resnet18", num_classes=4, width=0.125).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)).shape == (1, 4)
        out = create("split_resnet18_multihead", num_classes=4, width=0.125).eval()(torch.zeros(1, 3, 32, 32),
                                                                                    torch.zeros(1, 3, 32, 32))
    assert set(out) == {"both", "a", "b"}
    with pytest.raises(ValueError, match="width"):
        create("split_resnet18", width=0)
    with pytest.raises(ValueError, match="input_fusion"):
        create("preact_resnet18", input_fusion="max")
    with pytest.raises(ValueError, match="depth"):
        create("deep_linear", depth=0)
    with pytest.raises(TypeError, match="SensorHeadsLoss needs a multi-head model"):
        SensorHeadsLoss()(torch.zeros(2, 4), {"fine": torch.zeros(2, dtype=torch.long)})
