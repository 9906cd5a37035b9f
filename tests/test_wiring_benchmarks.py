"""Wiring Up Vision benchmarks: the behaviour benchmark (i2n consistency) on a surrogate subject, neural
predictivity on spatial features, the opt-in V1 property score row, and brain predictivity with behaviour."""
import numpy as np
import pandas as pd
import pytest
import torch

from neuronb.analysis.behavior import (behavior_benchmark, behavior_from_trials, load_behavior_data,
                                       save_behavior_data, surrogate_behavior)
from neuronb.analysis.predictivity import best_layers, normalized_input, region_scores, surrogate_neural_data
from neuronb.data import get_dataset
from neuronb.experiments.wiring.scores import brain_predictivity, score_model
from neuronb.models import create
from neuronb.store import RunStore


@pytest.fixture(scope="module")
def shapes():
    return get_dataset("shapes", "test", n_per_class=8, image_size=32)


def reference_net(seed=1, classes=20):
    torch.manual_seed(seed)
    return create("cornet_z", num_classes=classes, width=0.25, small_input=True).eval()


def test_behavior_reference_consistent_and_shuffled_near_zero(shapes):
    labels = shapes.labels["fine"].numpy()
    reference, centred = reference_net(), normalized_input()
    subject = surrogate_behavior(reference, shapes.images, labels, "IT.output", n_trials=10, preprocess=centred)
    itself = behavior_benchmark(reference, subject, "IT.output", preprocess=centred)
    assert itself["consistency"] > 0.85, itself
    order = np.arange(len(labels))
    rng = np.random.default_rng(3)
    for obj in np.unique(labels):
        rows = np.flatnonzero(labels == obj)
        order[rows] = rng.permutation(rows)
    shuffled = subject.copy(deep=True)
    shuffled["correct"].values[:] = subject["correct"].values[order]
    assert abs(behavior_benchmark(reference, shuffled, "IT.output", preprocess=centred)["consistency"]) < 0.25


def test_behavior_trials_file_round_trip(tmp_path):
    images = np.zeros((4, 3, 8, 8), np.uint8)
    data = behavior_from_trials([0, 0, 2, 3], [1, 1, 0, 0], [1, 0, 0, 1], images, [0, 0, 1, 1])
    for suffix in (".npz", ".nc"):
        again = load_behavior_data(save_behavior_data(data, tmp_path / f"b{suffix}"))
        assert np.array_equal(again["correct"].values, data["correct"].values, equal_nan=True)
    np.savez(tmp_path / "bad.npz", correct=np.zeros((4, 2, 1)), images=images, label=np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="bad.npz.*own object"):
        load_behavior_data(tmp_path / "bad.npz")


def test_spatial_features_find_matching_depth():
    images = get_dataset("shapes", "test", n_per_class=20, image_size=32).images
    reference, centred = reference_net(seed=0, classes=10), normalized_input()
    regions = {"V1": "V1.output", "IT": "IT.output"}
    units = surrogate_neural_data(reference, images, regions, n_neuroids=16, pooled=False, preprocess=centred)
    table = region_scores(reference, units, ["V1.output", "V2.output", "IT.output"], preprocess=centred, max_features=1024)
    best = best_layers(table)
    assert dict(zip(best["region"], best["layer"])) == regions, table


def test_v1_property_score_row(tmp_path):
    from neuronb.analysis.v1_properties import GratingProtocol
    store = RunStore(tmp_path / "s.sqlite")
    result = score_model(reference_net(classes=5), store, "CORnet-Z", "CORnet-Z_v1", v1=True, v1_image_size=32,
                         v1_protocol=GratingProtocol.quick())
    row = store.scores(benchmark="v1.properties")
    assert len(row) == 1 and row["layer"].iloc[0] == "V1.output" and 0 <= row["score"].iloc[0] <= 1
    assert result == {"v1.properties": row["score"].iloc[0]}


def test_score_model_records_behavior_and_predictivity_averages_it(tmp_path, shapes):
    labels = shapes.labels["fine"].numpy()
    reference, centred = reference_net(), normalized_input()
    brain = surrogate_neural_data(reference, shapes.images, {"IT": "IT.output"}, n_neuroids=8, preprocess=centred)
    subject = surrogate_behavior(reference, shapes.images, labels, "IT.output", preprocess=centred)
    store = RunStore(tmp_path / "s.sqlite")
    score_model(reference, store, "CORnet-Z", "ref", neural_data=brain, behavior_data=subject)
    score_model(reference_net(seed=7), store, "CORnet-Z", "other", neural_data=brain, behavior_data=subject)
    raw = store.raw_scores()
    assert set(raw["benchmark"]) == {"surrogate.IT-pls", "surrogate.behavior-i2n"}
    summary = brain_predictivity(raw, "ref").set_index("modification")
    table = raw.pivot_table(index="modification", columns="benchmark", values="score")
    assert np.isclose(summary.loc["other", "mean"], table.loc["other"].mean())
    assert summary.loc["ref", "percent"] == 100 and summary.loc["other", "percent"] < 100
