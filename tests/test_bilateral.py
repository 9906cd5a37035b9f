"The bilateral brain: k-WTA, hemisphere models, checkpoints into the right side, real freezing, data, configs, CLI, sweep."
import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import pytest
import torch

from conftest import ROOT, run_cli
from neuronb.data import ImageSet, get_dataset
from neuronb.data.formats import write_cifar
from neuronb.data.hemisphere_folders import write_hemisphere_folders
from neuronb.experiments.bilateral import (BilateralConfig, PipelineConfig, asset_configs, ensemble_spec, seeds_table,
                                           summarize_seeds, train_bilateral, translate_original_keys)
from neuronb.experiments.protocol import load_run, load_splits, read_config_file
from neuronb.experiments.runs import expand_spec, load_spec, read_sweep, run_inline
from neuronb.models import create
from neuronb.nn.kwta import KWinnersTakeAll2d, kwta_two_stage
from neuronb.store import RunStore

TINY = dict(dataset="shapes", dataset_kw={"n_per_class": 4}, fine={"width": 0.0625}, coarse={"width": 0.0625},
            train={"epochs": 1, "batch_size": 32, "progress": False, "precision": "fp32"}, seed=0)


def test_kwta_hand_example_and_identity():
    x = torch.tensor([[[[1.0, 5.0], [3.0, -2.0]]], [[[4.0, 0.5], [-1.0, 6.0]]]])
    # stage 1 keeps ceil(0.5 * 4) = 2 per map: {5, 3} and {6, 4}; stage 2 keeps ceil(0.75 * 2 * 2) = 3: {6, 5, 4}
    expected = torch.tensor([[[[0.0, 5.0], [0.0, 0.0]]], [[[4.0, 0.0], [0.0, 6.0]]]])
    assert torch.equal(kwta_two_stage(x, 0.5, 0.75), expected)
    assert torch.equal(KWinnersTakeAll2d(0.5, 0.75)(x), expected)
    y = torch.randn(3, 4, 5, 5)
    assert torch.equal(KWinnersTakeAll2d(1.0, 1.0)(y), y) and torch.equal(kwta_two_stage(y, 1.0, 1.0), y)


@pytest.mark.parametrize("fine_arch,coarse_arch", [("sparse_resnet9", "vgg11"), ("resnet18", "resnet9_inverted")])
def test_bilateral_forward_with_different_backbones(fine_arch, coarse_arch):
    kw = dict(fine_k=0.5, fine_k_batch=0.5) if fine_arch.startswith("sparse") else {}
    model = create("bilateral", num_classes=10, num_coarse_classes=4, fine_arch=fine_arch, coarse_arch=coarse_arch,
                   fine_width=0.125, coarse_width=0.125, **kw).eval()
    x = torch.randn(3, 3, 32, 32)
    out = model(x)
    assert out["fine"].shape == (3, 10) and out["coarse"].shape == (3, 4)
    nf, nc = model.fine_hemisphere.num_features, model.coarse_hemisphere.num_features
    assert nf != nc or fine_arch != coarse_arch
    model.output = "features"
    with torch.no_grad():
        feats = model(x)
        assert torch.allclose(feats, torch.cat([model.fine_hemisphere(x), model.coarse_hemisphere(x)], 1))
    assert model.heads["coarse"][1].in_features == nf + nc


def _unilateral_checkpoint(path, arch, heads, seed, num_classes):
    torch.manual_seed(seed)
    model = create("unilateral", num_classes=num_classes, arch=arch, heads=heads, width=0.0625)
    torch.save({"model": model.state_dict()}, path)
    return model


def test_checkpoints_go_into_the_right_side(tmp_path):
    fine = _unilateral_checkpoint(tmp_path / "f.pt", "resnet9", "fine", 1, 20)
    coarse = _unilateral_checkpoint(tmp_path / "c.pt", "resnet9", "coarse", 2, 5)
    model = create("bilateral", num_classes=20, num_coarse_classes=5, fine_width=0.0625, coarse_width=0.0625,
                   fine_checkpoint=str(tmp_path / "f.pt"), coarse_checkpoint=str(tmp_path / "c.pt"))
    for side, source in (("fine", fine), ("coarse", coarse)):
        inside = model.hemisphere(side).state_dict()
        assert all(torch.equal(inside[k], v) for k, v in source.hemisphere.state_dict().items())
    other = model.coarse_hemisphere.state_dict()
    assert not all(torch.equal(other[k], v) for k, v in fine.hemisphere.state_dict().items())
    with pytest.raises(ValueError, match="not a fine hemisphere"):       # the original's swapped arguments
        create("bilateral", num_classes=20, num_coarse_classes=5, fine_width=0.0625, coarse_width=0.0625,
               fine_checkpoint=str(tmp_path / "c.pt"), coarse_checkpoint=str(tmp_path / "f.pt"))


def test_frozen_hemispheres_unchanged_after_training_heads(tmp_path, isolated):
    fine = _unilateral_checkpoint(tmp_path / "f.pt", "resnet9", "fine", 1, 20)
    coarse = _unilateral_checkpoint(tmp_path / "c.pt", "resnet9", "coarse", 2, 5)
    base = BilateralConfig.from_dict({**TINY, "hemispheres": "bilateral",
                                      "fine": {"width": 0.0625, "checkpoint": str(tmp_path / "f.pt"), "frozen": True},
                                      "coarse": {"width": 0.0625, "checkpoint": str(tmp_path / "c.pt"), "frozen": False}})
    result = train_bilateral(base, run_dir=tmp_path / "run")
    (tmp_path / "f.pt").unlink()                      # load_run needs only the run's own checkpoint
    trained = load_run(tmp_path / "run").model
    frozen_after = trained.fine_hemisphere.state_dict()
    before = fine.hemisphere.state_dict()
    assert any("running_mean" in k for k in before)
    for key, value in before.items():                                  # weights and BN statistics
        assert torch.equal(frozen_after[key], value), key
    # the unfrozen side did move (weights and BN statistics): the check above can fail
    moved = trained.coarse_hemisphere.state_dict()
    coarse_before = coarse.hemisphere.state_dict()
    assert not torch.equal(moved["conv1.1.running_mean"], coarse_before["conv1.1.running_mean"])
    assert not torch.equal(moved["conv1.0.weight"], coarse_before["conv1.0.weight"])
    test = result.metrics["test"]
    assert 0 <= test["acc_fine"] <= 1 and 0 <= test["acc_coarse"] <= 1
    assert result.folder.result()["parameters"] == sum(p.numel() for p in trained.parameters())


def test_cifar100_label_order(tmp_path):
    fine = torch.tensor([0, 1, 2, 10, 11, 99, 55, 10])
    tiny = ImageSet(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), {"fine": fine, "coarse": fine // 5},
                    {"fine": [f"f{k}" for k in range(100)], "coarse": [f"c{k}" for k in range(20)]}, "t", "train")
    write_cifar(tiny, tmp_path / "cifar", kind="cifar100")
    cifar = get_dataset("cifar100", "train", root=tmp_path / "cifar")
    assert cifar.labels["fine"].tolist() == fine.tolist()              # CIFAR's own order, not lexicographic
    assert cifar.labels["coarse"].tolist() == (fine // 5).tolist()
    write_hemisphere_folders(cifar, tmp_path / "folders")
    back = get_dataset("hemisphere_folders", "train", root=tmp_path / "folders")
    by_name = dict(zip(cifar.meta["filenames"], fine.tolist()))
    assert back.labels["fine"].tolist() == [by_name[n] for n in back.meta["filenames"]]


def _hashes(data):
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in data.images}


def test_validation_is_held_out_of_train_never_test():
    config = BilateralConfig.from_dict({**TINY, "dataset_kw": {"n_per_class": 20}, "hemispheres": "unilateral"})
    assert config.label == "fine" and config.train.label == "fine" and config.train.seed == config.seed
    train, val, test = load_splits(config)
    full = get_dataset("shapes", "train", n_per_class=20)
    assert len(val) > 0 and len(train) + len(val) == len(full)
    assert not (_hashes(val) & _hashes(test)) and not (_hashes(val) & _hashes(train))
    assert _hashes(val) <= _hashes(full)


def test_original_config_files_load(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shipped = {name: BilateralConfig.from_dict(read_config_file(path, BilateralConfig))
                   for name, path in asset_configs().items()}
    assert len(shipped) == 8 and any("sweep spec" in str(w.message) for w in caught)     # several seeds: a warning
    assert shipped["paper"].train.epochs == 180 and shipped["paper"].dataset == "cifar100"
    assert shipped["quick"].train.eval_every == 2 and shipped["quick"].fine.width == 0.125
    assert shipped["bilateral_specialized"].fine.frozen and shipped["bilateral_specialized"].seed == 4
    assert shipped["unilateral_specialize"].coarse.arch == "resnet9" and shipped["unilateral_specialize"].label == "coarse"
    assert shipped["ensemble"].hemispheres == "ensemble" and shipped["ensemble"].members == []
    assert shipped["sparse_asymmetric"].fine.k_batch == 0.9
    nested = {"seeds": [3], "exp_name": "x", "trainer_params": {"max_epochs": 7, "accelerator": "gpu"},
              "hparams": {"mode_hemis": "ensemble", "mode_heads": "both", "mode_out": "pred",
                          "model_path_fine": ["a/last.pt", "b/last.pt"], "farch": "vgg11", "num_workers": 4}}
    assert translate_original_keys(nested) == {"seed": 3, "name": "x", "hemispheres": "ensemble", "heads": "both",
                                               "output": "logits", "members": ["a/last.pt", "b/last.pt"],
                                               "fine": {"arch": "vgg11"}, "train": {"epochs": 7}}
    config = BilateralConfig.from_dict(nested := translate_original_keys(nested))
    assert config.model == "ensemble" and config.train.epochs == 7
    assert BilateralConfig.from_dict(config.to_dict()) == config


def test_cli_smoke(tmp_path, isolated, capsys):
    from neuronb.cli import main
    (tmp_path / "tiny.yaml").write_text("mode_hemis: unilateral\nmode_heads: both\nseeds: [2]\nepochs: 1\n"
                                        "fwidth: 0.0625\ndataset_kw: {n_per_class: 4}\nprecision: fp32\n")
    out = run_cli("bilateral", "train", "--config", tmp_path / "tiny.yaml", "--preset", "tiny", "--run-dir",
                  tmp_path / "run", "--store", tmp_path / "s.sqlite", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["model"] == "unilateral-both" and result["seed"] == 2 and 0 <= result["test"]["acc_coarse"] <= 1
    assert main(["bilateral", "show", "--run-dir", str(tmp_path / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_acc_fine"] == pytest.approx(result["test"]["acc_fine"])
    assert main(["bilateral", "train", "--preset", "tiny", "--set", "fine.arch=resnet34"]) == 2
    assert "resnet34" in capsys.readouterr().err
    assert main(["bilateral", "train", "--preset", "tiny", "--set", "train.lr=abc"]) == 2
    assert "train.lr" in capsys.readouterr().err


def test_seeds_sweep_spec_at_tiny_size(tmp_path, isolated):
    spec = load_spec(ROOT / "examples" / "bilateral.yaml")
    assert spec.protocol == "bilateral.pipeline" and spec.preset == "quick"
    assert [r.params for r in expand_spec(spec)] == [{"seed": s} for s in spec.seeds]
    spec = dataclasses.replace(spec, preset="tiny", seeds=[0, 1])
    store = RunStore(tmp_path / "store.sqlite")
    pipelines = run_inline(spec, store)
    assert (pipelines["status"] == "finished").all() and pipelines["test_acc_fine"].between(0, 1).all()
    assert read_sweep(spec, store)["run_id"].tolist() == pipelines["run_id"].tolist()
    ensembles = run_inline(ensemble_spec(spec, store), store)
    table = seeds_table(pipelines, ensembles)
    assert table.groupby("model", sort=False).size().to_dict() == {
        "fine hemisphere": 2, "coarse hemisphere": 2, "bilateral": 2, "unilateral dual-head": 2,
        "bilateral end-to-end": 2, "ensemble": 1}
    pipeline = load_run(pipelines["run_dir"][0])
    assert isinstance(pipeline.config, PipelineConfig) and len(pipeline.result["phases"]) == 5
    assert pipeline.model.heads["coarse"][-1].out_features == 5
    assert len(load_run(ensembles["run_dir"][0]).model.members) == 2
    summary = summarize_seeds(table)
    assert summary.set_index("model").loc["bilateral", "acc_fine_n"] == 2
    assert len(store.find_runs(kind="sweep", status="finished")) == 3
