"""Brain-Score-comparable scoring (issue 16): known answers for the Brain-Score mode's splits, median and ceiling
against a direct scikit-learn computation, NaN-aware data, bootstrap intervals, RSA / CKA, and any model
(torchvision / timm by name, checkpoints in their original layouts)."""
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from torch import nn

from neuronb.analysis.predictivity import (brainscore_splits, ceiled_score, cka, linear_cka, make_neural_data,
                                           neural_rdm, pls_predictivity, rbf_cka, region_scores, rsa_noise_ceiling,
                                           rsa_predictivity, rsa_score, split_half_reliability, unbiased_cka)
from neuronb.models.registry import Preprocessing, create, default_preprocessing, load_checkpoint_weights


def linear_brain(n_stimuli=120, n_features=40, n_neuroids=20, n_reps=4, noise=0.5, seed=0):
    "Features, responses = features @ W + noise, and 6 object labels."
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_stimuli, n_features))
    clean = features @ rng.normal(size=(n_features, n_neuroids))
    responses = clean[:, :, None] + noise * clean.std() * rng.normal(size=(n_stimuli, n_neuroids, n_reps))
    return features, responses, np.repeat(np.arange(6), n_stimuli // 6)


def test_brainscore_mode_reproduces_direct_sklearn():
    features, responses, objects = linear_brain()
    result = pls_predictivity(features, responses, mode="brainscore", object_names=objects)
    target = responses.mean(axis=2)
    split_scores = []
    for train, test in StratifiedShuffleSplit(n_splits=10, train_size=0.9, random_state=1).split(
            np.zeros(len(target)), objects):
        predicted = PLSRegression(n_components=25, scale=False).fit(features[train], target[train]).predict(features[test])
        split_scores.append(np.median([pearsonr(predicted[:, j], target[test, j])[0] for j in range(target.shape[1])]))
    ceilings = []
    for first, second in ShuffleSplit(n_splits=10, train_size=0.5, random_state=1).split(np.zeros(4)):
        r = np.array([pearsonr(responses[:, j, first].mean(axis=1), responses[:, j, second].mean(axis=1))[0]
                      for j in range(target.shape[1])])
        ceilings.append(np.median(2 * r / (1 + r)))
    assert result["raw"] == pytest.approx(np.mean(split_scores), abs=1e-10)
    assert result["ceiling"] == pytest.approx(np.mean(ceilings), abs=1e-12)
    assert result["score"] == pytest.approx(np.mean(split_scores) ** 2 / np.mean(ceilings), abs=1e-10)
    assert result["convention"] == "explained_variance" and result["n_splits"] == 10
    papers = pls_predictivity(features, responses, mode="brainscore", object_names=objects, convention="r_over_ceiling")
    assert papers["score"] == pytest.approx(result["raw"] / result["ceiling"])


def test_split_scheme_stratifies_and_warns_without_objects():
    _, _, objects = linear_brain()
    for train, test in brainscore_splits(len(objects), objects):
        assert len(test) == 12 and sorted(np.bincount(objects[test])) == [2] * 6
    with pytest.warns(UserWarning, match="no 'object_name'"):
        assert len(brainscore_splits(len(objects))) == 10
    assert ceiled_score(0.5, 0.8, "explained_variance") == pytest.approx(0.3125)   # r^2 / r(Y, Y)
    assert np.isnan(ceiled_score(0.5, 0.0))


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.early = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.late = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(2))

    def forward(self, x):
        return self.late(self.early(x))


def layer_brain(shuffle=False):
    "Brainio-like data whose responses are a known linear map of `late`'s features."
    torch.manual_seed(0)
    model = TwoLayers().eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(120, 3, 8, 8), dtype=np.uint8)
    with torch.no_grad():
        late = model(torch.from_numpy(images).float() / 255).flatten(1).numpy()
    late = (late - late.mean(axis=0)) / (late.std(axis=0) + 1e-9)
    clean = late @ rng.normal(size=(late.shape[1], 16))
    responses = clean[:, :, None] + 0.3 * clean.std() * rng.normal(size=(120, 16, 3))
    if shuffle:
        responses = responses[rng.permutation(120)]
    data = make_neural_data(responses, images, ["IT"] * 16)
    data = data.assign_coords(object_name=("stimulus", np.repeat(np.array(list("abcdef")), 20)))
    data.attrs["stimulus_set_identifier"] = "fixture"
    return model, data


def test_known_linear_map_scores_near_ceiling_at_its_layer():
    model, data = layer_brain()
    table = region_scores(model, data, ["early", "late"], reduce="none", n_bootstrap=20)
    assert set(table["mode"]) == {"brainscore"} and set(table["convention"]) == {"explained_variance"}
    late, early = table.set_index("layer").loc["late"], table.set_index("layer").loc["early"]
    assert late["score"] > 0.9 and late["score"] > early["score"], table
    assert late["ci_low"] <= late["score"] <= late["ci_high"]
    _, shuffled = layer_brain(shuffle=True)
    assert abs(region_scores(model, shuffled, ["late"], reduce="none", n_bootstrap=0)["raw"].iloc[0]) < 0.15


def test_nan_responses_are_scored():
    features, responses, objects = linear_brain()
    rng = np.random.default_rng(1)
    responses[:60, :, 3] = np.nan                                  # uneven repetitions
    responses[rng.random(responses.shape[:2]) < 0.05] = np.nan     # missing recordings
    for mode in ("neuronb", "brainscore"):
        result = pls_predictivity(features, responses, mode=mode, object_names=objects, n_bootstrap=10)
        assert 0.8 < result["raw"] <= 1 and 0.7 < result["score"] < 1.2, (mode, result)
    assert (split_half_reliability(responses) > 0.7).all()
    assert rsa_score(features, responses) > 0.3 and linear_cka(features, responses) > 0.3
    lower, upper = rsa_noise_ceiling(responses)
    assert 0 < lower <= upper <= 1


def test_bootstrap_intervals_contain_estimate_and_shrink():
    widths = []
    for n in (60, 240):
        features, responses, objects = linear_brain(n_stimuli=n, noise=1.0)
        result = pls_predictivity(features, responses, n_bootstrap=60)
        for prefix in ("ci", "ci_stimuli", "ci_neuroids"):
            assert result[f"{prefix}_low"] <= result["score"] <= result[f"{prefix}_high"], (prefix, result)
        widths.append(result["ci_stimuli_high"] - result["ci_stimuli_low"])
    assert widths[1] < widths[0]
    rsa = rsa_predictivity(features, responses, n_bootstrap=20)
    assert rsa["ci_low"] <= rsa["score"] <= rsa["ci_high"]


def test_cka_variants_and_repetition_average():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 12))
    rotation = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    for measure in (linear_cka, unbiased_cka, rbf_cka):
        assert measure(x, x) == pytest.approx(1) and measure(x, 2 * x @ rotation) == pytest.approx(1)
    noise = rng.normal(size=(50, 12))
    assert unbiased_cka(x, noise) < linear_cka(x, noise)           # the biased estimate is inflated by chance
    repeats = x[:, :, None] + rng.normal(size=(50, 12, 5))
    assert linear_cka(x, repeats) == pytest.approx(linear_cka(x, repeats.mean(axis=2)))
    assert linear_cka(x, repeats) > linear_cka(x, repeats[:, :, 0])  # averaging repetitions removes noise
    assert cka(x, repeats, kernel="rbf", unbiased=True) > 0.5


def test_crossnobis_uses_repetitions():
    features, responses, _ = linear_brain(n_stimuli=30)
    crossnobis = neural_rdm(responses, "crossnobis")
    assert crossnobis.shape == (30, 30) and np.allclose(crossnobis, crossnobis.T)
    assert rsa_score(features, responses, rdm_method="crossnobis", compare_method="corr") > 0.5
    with pytest.raises(ValueError, match="compare_method|method must be one of"):
        rsa_score(features, responses, compare_method="pearson")


def test_any_model_and_checkpoints(tmp_path):
    model = create("torchvision:resnet18", num_classes=4)
    wrapped = {"epoch": 1, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}
    torch.save(wrapped, tmp_path / "original.pth")
    fresh = load_checkpoint_weights(create("torchvision:resnet18", num_classes=4), tmp_path / "original.pth")
    assert torch.equal(fresh.conv1.weight, model.conv1.weight)
    with pytest.raises(ValueError, match=r"missing key\(s\).*fc.weight"):
        torch.save({"model": {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}},
                   tmp_path / "headless.pt")
        load_checkpoint_weights(create("torchvision:resnet18", num_classes=4), tmp_path / "headless.pt")
    with pytest.raises(ValueError, match="not downloaded"):
        create("timm:resnet18", pretrained=True)
    vit = create("timm:vit_tiny_patch16_224", num_classes=2, img_size=16, patch_size=8, depth=2)
    assert vit(torch.zeros(1, 3, 16, 16)).shape == (1, 2)
    assert default_preprocessing("torchvision:resnet18") == Preprocessing(224)
