"The bilateral brain: k-WTA, hemisphere models, checkpoints into the right side, real freezing, data, CLI."
import hashlib
import json
from dataclasses import replace

import pytest
import torch

from conftest import run_cli
from neuronb.data import ImageSet, get_dataset
from neuronb.data.formats import write_cifar
from neuronb.data.hemisphere_folders import write_hemisphere_folders
from neuronb.experiments.bilateral import (BilateralConfig, class_counts, classification_config, preset_config,
                                           train_model)
from neuronb.experiments.classification import load_run, load_splits
from neuronb.models import create
from neuronb.nn.kwta import KWinnersTakeAll2d, kwta_two_stage

TINY = dict(dataset="shapes", dataset_kw={"n_per_class": 4}, fwidth=0.0625, cwidth=0.0625, epochs=1, batch_size=32,
            seeds=[0], progress=False, precision="fp32")


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
    base = BilateralConfig.from_dict({**TINY, "mode_hemis": "bilateral", "model_path_fine": str(tmp_path / "f.pt"),
                                      "model_path_coarse": str(tmp_path / "c.pt"), "ffreeze": True, "cfreeze": False})
    row = train_model(base, 0, run_dir=tmp_path / "run")
    _, trainer = load_run(tmp_path / "run")
    trained = trainer.model
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
    assert 0 <= row["acc_fine"] <= 1 and 0 <= row["acc_coarse"] <= 1


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
    config = BilateralConfig.from_dict({**TINY, "dataset_kw": {"n_per_class": 20}, "mode_hemis": "unilateral",
                                        "mode_heads": "both"})
    train, val, test = load_splits(classification_config(config, 0, class_counts(config)))
    full = get_dataset("shapes", "train", n_per_class=20)
    assert len(val) > 0 and len(train) + len(val) == len(full)
    assert not (_hashes(val) & _hashes(test)) and not (_hashes(val) & _hashes(train))
    assert _hashes(val) <= _hashes(full)


def test_cli_smoke(tmp_path, isolated, capsys):
    from neuronb.cli import main
    (tmp_path / "tiny.yaml").write_text("mode_hemis: unilateral\nmode_heads: both\nseeds: [0]\nepochs: 1\n"
                                        "fwidth: 0.0625\ndataset_kw: {n_per_class: 4}\nprecision: fp32\n")
    out = run_cli("bilateral", "train", "--config", tmp_path / "tiny.yaml", "--preset", "quick", "--out",
                  tmp_path / "runs", "--store", tmp_path / "s.sqlite", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["runs"][0]["model"] == "unilateral-both" and 0 <= result["runs"][0]["acc_coarse"] <= 1
    assert main(["bilateral", "evaluate", "--out", str(tmp_path / "runs"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary[0]["acc_fine_mean"] == pytest.approx(result["runs"][0]["acc_fine"])
    assert main(["bilateral", "train", "--preset", "quick", "--set", "farch=resnet34", "--out", str(tmp_path / "x")]) == 2
    assert "resnet34" in capsys.readouterr().err
