"Corruptions, the robustness table and its CSV, V1 property calculators on synthetic units, KS similarity."
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from neuronb.analysis.robustness import (corruption_accuracy, read_corruption_csv, robustness_summary,
                                         write_corruption_csv)
from neuronb.analysis.stimuli import parameter_table
from neuronb.analysis.v1_properties import (GratingProtocol, Reference, VisualField, circular_variance, ks_ceiling,
                                            ks_similarity, ks_similarity_counts, measure_v1_properties,
                                            v1_property_scores, v1_score)
from neuronb.data.core import ImageSet
from neuronb.data.corruptions import CORRUPTIONS, corrupt
from neuronb.nn.gabor import gabor_kernel


def smooth_images(n=4, size=32, seed=0):
    "Blurred random colour images (structure at several scales), uint8 NCHW."
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, size // 4, size // 4, generator=g)
    fine = torch.rand(n, 3, size, size, generator=g)
    images = 0.8 * torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear") + 0.2 * fine
    return (images * 255).round().to(torch.uint8)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_shape_dtype_determinism(name):
    images = smooth_images()
    out = corrupt(images, name, 3, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert torch.equal(out, corrupt(images, name, 3, torch.Generator().manual_seed(0)))
    as_float = corrupt(images.float() / 255, name, 3, torch.Generator().manual_seed(0))
    assert as_float.dtype == torch.float32 and 0 <= as_float.min() and as_float.max() <= 1
    assert not torch.equal(out, images)


@pytest.mark.parametrize("name", ["gaussian_noise", "impulse_noise", "defocus_blur", "motion_blur", "contrast",
                                  "brightness", "jpeg_compression", "elastic_transform"])
def test_corruption_severity_monotonic(name):
    images = smooth_images(4, 32)
    change = [(corrupt(images, name, s, torch.Generator().manual_seed(1)).float() - images.float()).abs().mean().item()
              for s in (1, 3, 5)]
    assert change[0] < change[1] < change[2], change


def test_corrupt_rejects_bad_arguments():
    images = smooth_images()
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(images, "rain", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(images, "fog", 7)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        corrupt(images[:, :2], "fog", 1)


class MeanBrightness(nn.Module):
    "Class 1 when the image is brighter than 0.5."
    def forward(self, x):
        level = x.mean((1, 2, 3))
        return torch.stack([0.5 - level, level - 0.5], 1)


def test_robustness_table_and_csv_round_trip(tmp_path):
    dark = torch.full((8, 3, 16, 16), 60, dtype=torch.uint8)
    bright = torch.full((8, 3, 16, 16), 200, dtype=torch.uint8)
    data = ImageSet(torch.cat([dark, bright]), {"fine": torch.tensor([0] * 8 + [1] * 8)})
    table = corruption_accuracy(MeanBrightness(), data, corruptions=["brightness", "contrast", "fog"], severities=(1, 5),
                                batch_size=5, device="cpu")
    assert table.iloc[0].tolist() == ["clean", 0, 1.0, 16]
    by = table.set_index(["corruption", "severity"]).accuracy
    assert by["brightness", 5] == 0.5          # every dark image becomes bright enough to be called bright
    summary = robustness_summary(table)
    assert summary["clean_accuracy"] == 1.0
    assert np.isclose(summary["relative_accuracy"], table.accuracy[1:].mean())
    path = write_corruption_csv(table, tmp_path / "sub" / "tinyimagenetc_results.csv")
    raw = pd.read_csv(path)
    assert list(raw.columns) == ["corruption_type", "difficulty", "valid_acc"] and len(raw) == 6
    back = read_corruption_csv(path)
    assert np.allclose(back.accuracy, table.accuracy[1:], atol=1e-6)
    assert back.corruption.tolist() == table.corruption[1:].tolist()


def gabor_model(theta_deg, cycles_per_pixel, size=21):
    conv = nn.Conv2d(1, 1, size, padding=size // 2, bias=False)
    kernel = gabor_kernel(size, math.radians(theta_deg), cycles_per_pixel, 3.0, 3.0)
    conv.weight.data = (kernel - kernel.mean())[:, None]
    return nn.Sequential(conv, nn.ReLU())


def test_gabor_unit_is_measured_with_its_orientation_and_frequency():
    field = VisualField(48, 6.0, channels=1)                        # 8 px/deg
    thin = GratingProtocol(phases=4, orientation_radius_cycles=(1.5,), sf_radii_deg=(2.25,), sf_orientations=6,
                           sf_values=tuple(np.logspace(np.log10(0.386), np.log10(14.67), 12)), size_orientations=3,
                           size_radii_deg=(0.2, 0.6, 1.8))
    props, measured = measure_v1_properties(gabor_model(60, 2.0 / 8), "1", field, thin, device="cpu")
    assert len(props) == 1
    unit = props.iloc[0]
    assert abs((unit.preferred_orientation - 60 + 90) % 180 - 90) < 3
    assert unit.peak_spatial_frequency == pytest.approx(2.0, rel=0.15)
    assert unit.modulation_ratio > 1 and unit.orientation_selective == 1 and unit.circular_variance < 0.6


def test_circular_variance_of_untuned_and_perfectly_tuned_units():
    orientations = np.arange(12) * 15.0
    assert circular_variance(np.full(12, 7.0), orientations) == pytest.approx(1.0)
    one = np.zeros(12)
    one[3] = 5.0
    assert circular_variance(one, orientations) == pytest.approx(0.0, abs=1e-12)


def test_ks_similarity_known_distributions():
    counts = np.array([5.0, 10, 20, 10, 5])
    assert ks_similarity_counts(counts, counts) == 1.0
    assert ks_similarity_counts(np.array([0, 0, 0, 0, 9.0]), np.array([9.0, 0, 0, 0, 0])) == 0.0
    reference = Reference("toy", np.linspace(0, 5, 6), counts)
    values_inside = np.repeat(np.arange(5) + 0.5, counts.astype(int) * 4)
    same, _ = ks_similarity(values_inside, reference, n_bootstrap=200)
    far, _ = ks_similarity(np.full(30, 4.9), reference, n_bootstrap=50)
    ceiling = ks_ceiling(reference, n_bootstrap=200)
    assert abs(same - ceiling) < 0.05 and far < 0.35 and 0.7 < ceiling < 1


def test_scores_report_unavailable_targets_without_numbers():
    table = pd.DataFrame({"preferred_orientation": np.linspace(-20, 150, 40),
                          "peak_spatial_frequency": np.exp(np.linspace(0, 2, 40)),
                          "circular_variance": np.linspace(0, 1, 40)})
    scores = v1_property_scores(table, n_bootstrap=50).set_index("property")
    assert scores.loc["circular_variance", "status"] == "unavailable" and np.isnan(scores.loc["circular_variance", "score"])
    assert scores.loc["preferred_orientation", "status"] == "ok" and 0 < scores.loc["preferred_orientation", "score"] <= 1
    assert scores.loc["surround_suppression_index", "status"] == "too few units"
    overall = v1_score(scores.reset_index())
    assert set(overall["groups"]) == {"orientation", "spatial_frequency"}


def test_parameter_table_by_pattern():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    table = parameter_table(model, "*.bias")
    assert table.name.tolist() == ["0.bias", "1.bias"]
    with pytest.raises(ValueError, match="no parameter"):
        parameter_table(model, "*.sigma")
