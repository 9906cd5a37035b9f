"""Rehearsal of the bilateral brain's paper preset: the commands a GPU user types (`neuronb bilateral pipeline --preset
paper ...`, `neuronb report bilateral_brain --preset paper --param root=DIR`) with `--preset rehearsal`, i.e. the
original recipe (Adam 1e-4, ResNet-9 hemispheres, CIFAR-100 readers, the seeds pipeline and its baselines) at the
tiny preset's sizes, on fixture data written in the real on-disk formats: the CIFAR-100 python pickles
(`cifar-100-python/{train,test,meta}`) and the original `prepare_cifar.py` layout made from them."""
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
import torch

from neuronb.cli import main
from neuronb.data import ImageSet, get_dataset
from neuronb.data.formats import write_cifar
from neuronb.data.hemisphere_folders import write_hemisphere_folders
from neuronb.experiments.bilateral import PIPELINE_PHASES
from neuronb.experiments.protocol import RunFolder
from neuronb.report import run_reports
from neuronb.store import RunStore

FINE, COARSE = 100, 20
TRAIN_PER_CLASS, TEST_PER_CLASS = 6, 2        # 6: the stratified 10% validation keeps one image of each fine class
PHASES = ("fine hemisphere", "coarse hemisphere", "bilateral", "unilateral dual-head", "bilateral end-to-end")


def _cifar100_like(split: str, per_class: int, seed: int) -> ImageSet:
    "CIFAR-100's label structure: 100 fine classes, 5 to each of 20 coarse classes, in a shuffled (not fine // 5) order."
    coarse_of = torch.randperm(FINE, generator=torch.Generator().manual_seed(0)) // (FINE // COARSE)
    g = torch.Generator().manual_seed(seed)
    fine = torch.arange(FINE).repeat_interleave(per_class)
    images = torch.randint(0, 256, (len(fine), 3, 32, 32), dtype=torch.uint8, generator=g)
    names = {"fine": [f"fine_{k:02d}" for k in range(FINE)], "coarse": [f"coarse_{k:02d}" for k in range(COARSE)]}
    return ImageSet(images, {"fine": fine, "coarse": coarse_of[fine]}, names, "cifar100", split,
                    {"filenames": [f"{names['fine'][int(f)]}_s_{i:06d}.png" for i, f in enumerate(fine)]})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "The pickles as distributed, and the original `prepare_cifar.py` layout written from them (it has no classes.json)."
    root = tmp_path_factory.mktemp("bilateral_data")
    for split, per_class, seed in (("train", TRAIN_PER_CLASS, 1), ("test", TEST_PER_CLASS, 2)):
        pickles = write_cifar(_cifar100_like(split, per_class, seed), root, kind="cifar100")
    with pytest.MonkeyPatch.context() as patch:       # 1,600 small files: durable writes (an fsync each) are not needed
        patch.setattr("os.fsync", lambda fd: None)
        for split in ("train", "test"):
            write_hemisphere_folders(get_dataset("cifar100", split, root=pickles), root / "CIFAR100")
    (root / "CIFAR100" / "classes.json").unlink()
    assert sorted(p.name for p in pickles.iterdir()) == ["meta", "test", "train"]
    return {"pickles": pickles, "folders": root / "CIFAR100"}


@pytest.fixture(scope="module")
def pipeline(data, tmp_path_factory):
    "`neuronb bilateral pipeline --preset rehearsal` on the original folder layout, as the user types it."
    out = tmp_path_factory.mktemp("bilateral_pipeline")
    argv = ["bilateral", "pipeline", "--preset", "rehearsal", "--dataset", "hemisphere_folders", "--root",
            str(data["folders"]), "--run-dir", str(out / "run"), "--store", str(out / "store.sqlite"), "--quiet", "--json"]
    printed, errors = StringIO(), StringIO()
    with redirect_stdout(printed), redirect_stderr(errors):
        code = main(argv)
    return {"code": code, "stdout": printed.getvalue(), "stderr": errors.getvalue(), "run": out / "run",
            "store": out / "store.sqlite"}


@pytest.fixture(scope="module")
def report(data, tmp_path_factory):
    "`neuronb report bilateral_brain --preset rehearsal --param root=DIR` on the pickles."
    out = tmp_path_factory.mktemp("bilateral_report")
    [result] = run_reports(["bilateral_brain"], preset="rehearsal", out_dir=out / "html",
                           parameters={"root": str(data["pickles"]), "out_dir": str(out / "runs")}, log=lambda *_: None)
    return {"result": result, "runs": out / "runs"}


def test_fixture_is_the_original_layouts(data):
    cifar = get_dataset("cifar100", "test", root=data["pickles"].parent)    # the folder holding cifar-100-python too
    assert cifar.num_classes("fine") == FINE and cifar.num_classes("coarse") == COARSE
    folders = get_dataset("hemisphere_folders", "test", root=data["folders"])
    assert sorted(p.name for p in (data["folders"] / "test").iterdir()) == ["coarse", "fine"]
    assert len(list((data["folders"] / "train" / "fine").iterdir())) == FINE
    by_name = dict(zip(cifar.meta["filenames"], cifar.labels["coarse"].tolist()))
    assert folders.labels["coarse"].tolist() == [by_name[n] for n in folders.meta["filenames"]]


def test_pipeline_finished_every_phase_with_paper_recipe(pipeline):
    assert pipeline["code"] == 0, pipeline["stderr"]
    folder = RunFolder(pipeline["run"])
    assert folder.protocol == "bilateral.pipeline" and folder.result() is not None
    config = folder.config_dict()
    assert (config["dataset"], config["fine"]["arch"], config["coarse"]["arch"], config["train"]["lr"],
            config["train"]["optimizer"], config["dropout"]) == ("hemisphere_folders", "resnet9", "resnet9", 1e-4, "adam", 0.6)
    rows = {row["model"]: row for row in folder.result()["phases"]}
    assert tuple(rows) == PHASES and set(PHASES) < set(PIPELINE_PHASES)
    for name, row in rows.items():
        assert Path(row["run_dir"]).parent == pipeline["run"] and (Path(row["run_dir"]) / "result.json").is_file(), name
        heads = ("fine", "coarse") if name not in ("fine hemisphere", "coarse hemisphere") else (name.split()[0],)
        assert all(0 <= row[f"acc_{h}"] <= 1 for h in heads), row
    assert rows["bilateral"]["parameters"] == rows["bilateral end-to-end"]["parameters"]
    assert 0 <= json.loads(pipeline["stdout"])["test"]["acc_coarse"] <= 1


def test_pipeline_runs_and_metrics_in_the_store(pipeline):
    assert pipeline["code"] == 0, pipeline["stderr"]
    store = RunStore(pipeline["store"])
    runs = store.runs()
    assert len(runs) == len(PHASES) and set(runs["status"]) == {"finished"}
    assert set(runs["kind"]) == {"bilateral.hemisphere", "bilateral.train"}
    metrics = store.metrics(list(runs["run_id"]), wide=False)
    for run_id in runs["run_id"]:
        mine = metrics[metrics["run_id"] == run_id]
        epoch_keys = set(mine.loc[mine["split"] == "epoch", "key"])
        assert "train_loss" in epoch_keys and "val_loss" in epoch_keys, (run_id, epoch_keys)
        assert any(k.startswith("val_acc") for k in epoch_keys), (run_id, epoch_keys)     # val_acc or val_acc_<head>
        assert mine.loc[mine["split"] == "test", "value"].notna().all() and (mine["split"] == "test").any(), run_id


def test_report_has_every_figure_and_no_problem(report):
    result = report["result"]
    assert result.preset == "rehearsal" and result.html.is_file()
    assert result.audit.problems == []
    # figures: the data, accuracy bars, correctness patterns, distance scatter, Grad-CAM
    assert result.audit.images == 5
    # tables: the config, seeds table, summary, parameters, pattern counts, distances, comparison, checks
    assert result.audit.tables == 8
    # plotly: the browser of test images by correctness category (dropdown of categories, slider over their images)
    assert result.audit.plotly_figures == 1
    store = RunStore(report["runs"] / "store.sqlite")
    runs = store.runs()
    assert set(runs["status"]) == {"finished"}
    # the sweep's entries (two pipeline seeds, one ensemble), each pipeline's five phases, the ensemble's evaluation
    assert runs["kind"].value_counts().to_dict() == {"bilateral.train": 3 * 2 + 1, "bilateral.hemisphere": 2 * 2, "sweep": 3}
    phases = runs[runs["name"].str.startswith("bilateral-")]
    configs = [json.loads(c) if isinstance(c, str) else c for c in phases["config"]]
    assert {c.get("bilateral", c)["dataset"] for c in configs} == {"cifar100"}      # the paper preset's reader
    recipe = {(c["fine"]["arch"], c["fine"]["width"], c["train"]["lr"], c["train"]["epochs"])
              for c in (c.get("bilateral", c) for c in configs)}
    assert recipe == {("resnet9", 0.0625, 1e-4, 1)}           # the paper recipe and model family at the tiny sizes
    tested = store.metrics(list(phases["run_id"]), split="test")
    assert set(tested["run_id"]) == set(phases["run_id"]) and tested.filter(like="acc").notna().any(axis=1).all()
