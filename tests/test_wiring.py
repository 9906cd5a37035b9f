"""Wiring Up Vision: the issue's tests (CORnet-S shapes and time steps, inits reproduce what they were fitted to,
frozen weights stay bit-identical, PLS finds the matching layer, raw_scores files round-trip) and a CLI smoke test."""
import contextlib
import copy
import io
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuronb.analysis.features import layer_output_shapes
from neuronb.analysis.predictivity import (best_layers, normalized_input, pls_predictivity, region_scores,
                                           surrogate_neural_data)
from neuronb.experiments.wiring import (CORNET_REGIONS, apply_init, export_scores, fit_cluster_init, fit_gabors,
                                        read_score_file, render_gabors, sample_cluster, time_step_layers,
                                        trained_patterns, weight_compression_spec)
from neuronb.models import create
from neuronb.train import Trainer, TrainConfig


def tiny_cornet(**kw):
    return create("cornet_s", num_classes=5, width=0.125, small_input=True, **kw)


def test_cornet_s_shapes_and_time_steps():
    model = tiny_cornet()
    shapes = layer_output_shapes(model, (2, 3, 32, 32), list(CORNET_REGIONS.values()) + ["decoder.output"])
    assert [k for k in shapes if k.startswith("V4")] == [f"V4.output-t{t}" for t in range(4)]
    assert shapes["V1.output"] == (2, 8, 16, 16) and shapes["IT.output-t1"] == (2, 64, 2, 2)
    assert shapes["decoder.output"] == (2, 5)
    assert time_step_layers(model, last_only=True) == {"V1": "V1.output-t0", "V2": "V2.output-t1",
                                                       "V4": "V4.output-t3", "IT": "IT.output-t1"}
    assert model.V4.conv2.weight.shape == (128, 128, 3, 3) and hasattr(model.V4, "norm2_3")


def test_gabor_fitted_back():
    truth = torch.tensor([[0.6, 0.22, 1.8, 2.4, 0.9, 0.4, -0.3, 0.05]])
    fitted, mse = fit_gabors(render_gabors(truth, 7), n_starts=4, steps=150)
    assert mse.item() < 1e-4
    assert abs(math.remainder(fitted[0, 0].item() - 0.6, math.pi)) < 0.05
    assert abs(fitted[0, 1].item() - 0.22) < 0.01 and abs(fitted[0, 7].item() - 0.05) < 0.005


def test_cluster_init_recovers_known_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.stack([torch.full((3, 3), -0.2), torch.linspace(-0.3, 0.3, 9).view(3, 3)])
    labels = torch.stack([torch.randperm(10, generator=g) % 2 for _ in range(12)])      # 5 of each per kernel
    weight = centres[labels] + 0.01 * torch.randn(12, 10, 3, 3, generator=g)
    stats = fit_cluster_init(weight, 2, n_init=2)
    found = torch.tensor(stats["centers"]).flatten(1)
    assert torch.cdist(found, centres.flatten(1)).min(dim=1).values.max() < 0.01
    assert np.allclose(stats["count_mean"], [5, 5]) and np.allclose(stats["count_std"], 0)
    sampled = sample_cluster(stats, (12, 10, 3, 3), torch.Generator().manual_seed(1))
    again = fit_cluster_init(sampled, 2, n_init=2)
    assert np.allclose(again["count_mean"], [5, 5]) and np.allclose(again["spread"], stats["spread"], rtol=0.25)
    assert sample_cluster(stats, (4, 6, 1, 1)).shape == (4, 6, 1, 1)


def test_weight_compression_spec_applies_to_transfer_target():
    from neuronb.models.cornet import transfer_layer_map
    source = tiny_cornet(times={"V4": 1})
    spec = weight_compression_spec(source, gabor={"steps": 30, "n_starts": 2, "max_components": 2}, cluster={"n_init": 1})
    target = create("mobilenet_v2", num_classes=5, width=0.25)
    done = apply_init(target, spec, layer_map=transfer_layer_map(target))
    assert len(done) == sum(isinstance(m, torch.nn.Conv2d) for m in target.modules())


def test_frozen_weights_bit_identical_after_a_step():
    torch.manual_seed(0)
    model = tiny_cornet(times={"V4": 1})
    before = copy.deepcopy(model.state_dict())
    config = TrainConfig(epochs=1, batch_size=8, train_only=trained_patterns("critical"), precision="fp32",
                         progress=False, augment="none")
    from neuronb.data import ImageSet
    data = ImageSet(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), {"fine": torch.arange(8) % 5},
                    {"fine": [str(i) for i in range(5)]})
    Trainer(model, data, config).train_epoch(0)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {"V2.conv3.weight", "V4.conv3.weight", "IT.conv3.weight", "decoder.linear.weight", "decoder.linear.bias"}
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]) != (name in trained), name


def test_pls_matching_layer_and_shuffled():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(150, 40))
    responses = (features @ rng.normal(size=(40, 20)))[:, :, None] + 0.3 * rng.normal(size=(150, 20, 4)) * 6
    assert pls_predictivity(features, responses)["score"] > 0.8
    assert abs(pls_predictivity(features, responses[rng.permutation(150)])["raw"]) < 0.15
    torch.manual_seed(1)
    reference = create("cornet_z", num_classes=5, width=0.25, small_input=True).eval()
    images = torch.randint(0, 256, (120, 3, 32, 32), dtype=torch.uint8)
    regions = {"V1": "V1.output", "IT": "IT.output"}
    brain = surrogate_neural_data(reference, images, regions, n_neuroids=16, preprocess=normalized_input())
    table = region_scores(reference, brain, list(regions.values()), reduce="avgpool", preprocess=normalized_input())
    best = best_layers(table)
    assert dict(zip(best["region"], best["layer"])) == regions and (best["score"] > 0.7).all()


def test_raw_scores_file_read_back_exactly(tmp_path):
    table = pd.DataFrame({"model": ["CORnet-S", "CORnet-S"], "benchmark": ["dicarlo.MajajHong2015.IT-pls", "fei-fei.Deng2009-top1"],
                          "batchnorm": [False, True], "score": [0.538, 0.692],
                          "modification": ["CORnet-S_full_epoch_43", "CORnet-S_full_epoch_43"],
                          "time": ["2020-01-01 00:00:00", "2020-01-02 00:00:00"]})
    params = pd.DataFrame({"model_id": ["CORnet-S_full"], "train_time": [10], "weights_fixed": [0],
                           "weights_to_train": [53_400_000], "additional_params": [0], "flops": [None]})
    raw, read_params = read_score_file(export_scores(table, tmp_path / "scores.sqlite", params))
    assert raw.equals(table)
    assert read_params["weights_to_train"].tolist() == [53_400_000] and read_params["flops"].isna().all()


def test_cli_smoke(tmp_path):
    from neuronb.cli import main
    from neuronb.store import RunStore
    table = pd.DataFrame({"model": ["CORnet-S"], "benchmark": ["V4"], "batchnorm": [False], "score": [0.5],
                          "modification": ["CORnet-S_full_epoch_43"], "time": ["2020-01-01 00:00:00"]})
    export_scores(table, tmp_path / "in.sqlite")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["wiring", "import-scores", "--store", str(tmp_path / "s.sqlite"), str(tmp_path / "in.sqlite")]) == 0
        assert main(["wiring", "export-scores", "--store", str(tmp_path / "s.sqlite"), str(tmp_path / "out.sqlite")]) == 0
    assert RunStore(tmp_path / "s.sqlite").raw_scores()["score"].tolist() == [0.5]
    assert read_score_file(tmp_path / "out.sqlite")[0]["modification"].tolist() == ["CORnet-S_full_epoch_43"]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["wiring", "train", "--set", "nokey"]) == 2
    assert "--set expects key=value" in err.getvalue()


def test_example_spec_runs_at_tiny_size(tmp_path):
    from neuronb.experiments.runs import expand_spec, load_spec, run_inline
    from neuronb.experiments.wiring import saved_epochs
    from neuronb.store import RunStore
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "wiring.yaml")
    assert (spec.protocol, spec.preset) == ("wiring.train", "quick")
    spec = replace(spec, preset="tiny", seeds=[0], root=str(tmp_path / "runs"), store=str(tmp_path / "store.sqlite"))
    runs = expand_spec(spec)
    assert [r.params["trained"] for r in runs] == ["all", "critical"]
    table = run_inline(spec).set_index("trained")
    assert (table["status"] == "finished").all()
    assert table.loc["critical", "trained_parameters"] < table.loc["all", "trained_parameters"]
    assert (table["supervised_updates"] == table["images"]).all()               # tiny: one epoch
    assert len(RunStore(tmp_path / "store.sqlite").find_runs(kind="wiring.train", status="finished")) == 2
    for run in runs:                                    # every run folder: weights at birth, fractional epochs, the end
        epochs = saved_epochs(run.run_dir)
        assert epochs[0] == 0.0 and epochs[-1] == 1.0 and len(epochs) > 5, epochs
    # the one loader reads any saved epoch; wiring.score scores it against a surrogate brain made from the other run
    from neuronb.experiments.protocol import load_run, run
    from neuronb.experiments.wiring import checkpoint_name
    birth = load_run(runs[1].run_dir, checkpoint_name(0.0))
    assert birth.protocol == "wiring.train" and birth.config.trained == "critical" and not birth.model.training
    store = RunStore(tmp_path / "store.sqlite")
    scored = run("wiring.score", preset="tiny", store=store, run_dir=tmp_path / "score", run=runs[1].run_dir, epoch=0.0,
                 surrogate_run=runs[0].run_dir)
    assert {"surrogate.V1-pls", "surrogate.IT-pls", "engineering.top1"} <= set(scored.table["benchmark"])
    assert set(store.raw_scores()["modification"]) == {"wiring_epoch_0"}
