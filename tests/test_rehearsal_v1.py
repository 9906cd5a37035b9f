"""Rehearsal of the V1-constraints paper path: the commands a GPU user types with `--preset paper`, typed here with
`--preset rehearsal` (the paper recipe, readers and model family at the tiny preset's sizes) on small trees in the
on-disk layouts of ImageNet, Tiny-ImageNet and Tiny-ImageNet-C."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from neuronb.data import ImageSet
from neuronb.data.formats import write_image_folder, write_tinyimagenet, write_tinyimagenet_c
from neuronb.experiments.v1 import TINY_CORRUPTIONS
from neuronb.store import RunStore
from conftest import cli_in_process

WNIDS = ["n01443537", "n01629819", "n01641577", "n01644900"]
SEVERITIES = (1, 3)          # the rehearsal's (the tiny preset's) severities; a real Tiny-ImageNet-C has 1-5


def _images(n_per_class: int, size: int, seed: int) -> ImageSet:
    "A colour per class with noise: labels `fine` index WNIDS, the class names are the wnids."
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(WNIDS)).repeat_interleave(n_per_class)
    colour = torch.tensor([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40]], dtype=torch.float)[labels]
    x = colour[:, :, None, None] + 40 * torch.randn(len(labels), 3, size, size, generator=g)
    return ImageSet(x.clamp(0, 255).to(torch.uint8), {"fine": labels}, {"fine": list(WNIDS)}, "fixture", "")


def _is_jpeg(path: Path) -> bool:
    with Image.open(path) as im:
        return im.format == "JPEG"


_cli = cli_in_process


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "ImageNet as distributed (train/ and val/ class folders of .JPEG files, no test/), Tiny-ImageNet and Tiny-ImageNet-C."
    root = tmp_path_factory.mktemp("v1_data")
    imagenet = root / "imagenet"
    write_image_folder(_images(6, 72, 0), imagenet / "train", ext="JPEG")
    write_image_folder(_images(2, 80, 1), imagenet / "val", ext="JPEG")
    for k, wnid in enumerate(WNIDS):      # ImageNet's images differ in size: the reader resizes them to the model's 64 px
        Image.fromarray(np.full((50 + 7 * k, 90, 3), 60 * k, np.uint8)).save(imagenet / "train" / wnid / f"{wnid}_{k}.JPEG")
    tiny = root / "tiny"                  # holds tiny-imagenet-200/, as the zip unpacks
    write_tinyimagenet(_images(6, 64, 2), _images(2, 64, 3), tiny, words={w: f"thing {k}" for k, w in enumerate(WNIDS)})
    tinyc = root / "Tiny-ImageNet-C"
    for corruption in TINY_CORRUPTIONS:
        for severity in SEVERITIES:
            write_tinyimagenet_c(_images(2, 64, 10 + severity), tinyc, corruption, severity)
    return {"imagenet": imagenet, "tiny": tiny, "tinyc": tinyc}


def test_fixture_layouts(data):
    "The writers produce the distributed layouts: JPEG files with the .JPEG extension, Tiny-ImageNet's text files."
    imagenet, tiny, tinyc = data["imagenet"], data["tiny"] / "tiny-imagenet-200", data["tinyc"]
    assert sorted(p.name for p in imagenet.iterdir()) == ["train", "val"]
    files = sorted(imagenet.rglob("*.JPEG"))
    assert len(files) == 4 * 7 + 4 * 2 and all(_is_jpeg(f) for f in files[:3])
    assert (tiny / "wnids.txt").read_text().split() == WNIDS
    assert (tiny / "words.txt").read_text().splitlines()[0] == f"{WNIDS[0]}\tthing 0"
    assert len(list((tiny / "train" / WNIDS[0] / "images").glob(f"{WNIDS[0]}_*.JPEG"))) == 6
    assert (tiny / "train" / WNIDS[0] / f"{WNIDS[0]}_boxes.txt").is_file()
    annotation = (tiny / "val" / "val_annotations.txt").read_text().splitlines()
    assert len(annotation) == 8 and annotation[0].split("\t")[:2] == ["val_0.JPEG", WNIDS[0]]
    assert _is_jpeg(tiny / "val" / "images" / "val_0.JPEG")
    assert sorted(p.name for p in tinyc.iterdir()) == sorted(TINY_CORRUPTIONS)
    assert sorted(p.name for p in (tinyc / "fog").iterdir()) == ["1", "3"]
    assert len(list((tinyc / "fog" / "3" / WNIDS[1]).glob("*.JPEG"))) == 2


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """The paper path from the command line: train a composite on ImageNet, fine-tune its head on Tiny-ImageNet, its
    Tiny-ImageNet-C robustness and the V1 properties of the ImageNet run."""
    work = tmp_path_factory.mktemp("v1_runs")
    store, imagenet_run, tiny_run = work / "store.sqlite", work / "imagenet_d", work / "tiny_d"
    common = ("--preset", "rehearsal", "--store", store)
    trained = json.loads(_cli("v1", "train", "--model", "v1_resnet50_d", "--dataset", "imagefolder", "--root", data["imagenet"],
                              "--run-dir", imagenet_run, *common))
    tuned = json.loads(_cli("v1", "train", "--finetune-from", imagenet_run, "--root", data["tiny"], "--run-dir", tiny_run,
                            *common))
    _cli("v1", "robustness", "--source-run", tiny_run, "--corruption-root", data["tinyc"], *common)
    _cli("v1", "properties", "--source-run", imagenet_run, *common)
    return {"store": RunStore(store), "imagenet": imagenet_run, "tiny": tiny_run, "trained": trained, "tuned": tuned}


def test_imagenet_run_evaluates_on_val(runs):
    "ImageNet has no test/ folder: the run is evaluated on val (it once stopped with 'no split folder DIR/test')."
    config = json.loads((runs["imagenet"] / "run.json").read_text())["config"]
    assert (config["dataset"], config["test_split"], config["dataset_kw"]) == ("imagefolder", "val", {"size": 64})
    assert (config["model"], config["model_kw"], config["train"]["lr"], config["train"]["milestones"]) == \
        ("v1_resnet50_d", {"width": 0.125}, 0.1, [60, 80])          # the paper recipe and model family, 1/8 wide
    assert runs["trained"]["epochs"] == 1 and 0 <= runs["trained"]["test"]["acc"] <= 1
    assert json.loads((runs["imagenet"] / "result.json").read_text())["test_acc"] == runs["trained"]["test"]["acc"]


def test_every_preset_evaluates_imagenet_on_val(data):
    "Not only the paper / rehearsal presets: the split follows the dataset (`follow_dataset`, applied by `v1.train`)."
    from neuronb.commands.v1 import _train_config
    from neuronb.experiments.v1 import follow_dataset
    from neuronb.cli import build_parser
    for preset in ("tiny", "quick", "paper", "rehearsal"):
        args = build_parser().parse_args(["v1", "train", "--preset", preset, "--dataset", "imagefolder", "--root", str(data["imagenet"])])
        config = follow_dataset(_train_config(args))
        assert (config.test_split, config.dataset_kw.get("size")) == ("val", 64), preset


def test_finetune_on_tinyimagenet(runs):
    "Only a new head trains on Tiny-ImageNet, evaluated on its labelled val split (its test/ has no labels)."
    config = json.loads((runs["tiny"] / "run.json").read_text())["config"]
    assert (config["dataset"], config["test_split"], config["finetune_from"]) == ("tinyimagenet", "val", str(runs["imagenet"]))
    assert config["model"] == "v1_resnet50_d" and "acc" in runs["tuned"]["test"]
    assert (runs["tiny"] / "result.json").is_file()


def test_store_holds_finished_runs_metrics_and_scores(runs):
    store = runs["store"]
    table = store.runs()
    assert len(table) == 2 and set(table.status) == {"finished"}
    metrics = store.metrics(list(table.run_id))
    assert len(metrics) > 0
    benchmarks = set(store.scores().benchmark)
    assert {"clean_accuracy", "mean_corruption_accuracy", "relative_corruption_accuracy", "v1_property_score"} <= benchmarks


def test_robustness_read_the_tinyimagenet_c_tree(runs):
    table = json.loads((runs["tiny"] / "robustness" / "result.json").read_text())
    assert 0 <= table["clean_accuracy"] <= 1 and 0 <= table["mean_corruption_accuracy"] <= 1
    csv = (runs["tiny"] / "robustness.csv").read_text().splitlines()
    assert len(csv) == 1 + 1 + len(TINY_CORRUPTIONS) * len(SEVERITIES)     # header, clean, one row per folder
    assert all(line.endswith(",8") for line in csv[1:])                      # every image of each folder evaluated
    assert (runs["tiny"] / "tinyimagenetc_results.csv").is_file()


def test_properties_measured(runs):
    assert (runs["imagenet"] / "properties" / "result.json").is_file()
    assert len((runs["imagenet"] / "v1_properties.csv").read_text().splitlines()) > 1
    assert "ok" in (runs["imagenet"] / "v1_scores.csv").read_text()


def test_report_rehearsal(data, tmp_path_factory):
    from neuronb.report import run_reports
    out = tmp_path_factory.mktemp("v1_report")
    [result] = run_reports(["v1_constraints"], preset="rehearsal", out_dir=out, log=lambda *a: None,
                           parameters={"root": str(data["tiny"]), "corruption_root": str(data["tinyc"])})
    assert result.audit.problems == []
    # 8 matplotlib figures; 1 plotly figure (the V1 unit explorer's twin); 6 tables: models, training, robustness,
    # V1 overview, texture summary, and the claims-and-checks table
    assert (result.audit.images, result.audit.plotly_figures, result.audit.tables) == (8, 1, 6)
    executed = json.loads((out / "notebooks" / "v1_constraints.ipynb").read_text())
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "'rehearsal'" in shown                  # the protocols ran at the rehearsal preset, not at tiny
