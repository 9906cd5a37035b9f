"""Rehearsal of the critical-period paper preset (issue 19): CIFAR-10 in its python-pickle layout, Split-ResNet-18, the
blur and independent-sensor removal sweeps and window sensitivity, through the commands a GPU user types
(`neuronb critical ... --preset rehearsal`, `neuronb report critical_periods --preset rehearsal --param data_root=DIR`):
the paper's recipe, data reader and model family, at the tiny preset's sizes."""
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuronb.cli import main
from neuronb.data.core import ImageSet
from neuronb.data.formats import write_cifar
from neuronb.experiments.critical import removal_sweeps
from neuronb.experiments.protocol import preset_config
from neuronb.experiments.runs import load_result
from neuronb.report import run_reports
from neuronb.store import RunStore

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10_fixture(folder: Path, per_class: dict | None = None, seed: int = 0) -> Path:
    "A small CIFAR-10 in the official python layout: each class one colour plus noise (learnable, not trivial)."
    generator = torch.Generator().manual_seed(seed)
    palette = torch.randint(40, 216, (10, 3, 1, 1), generator=generator)
    for split, n in (per_class or {"train": 10, "test": 10}).items():
        labels = torch.arange(10).repeat_interleave(n)
        noise = torch.randint(-40, 41, (len(labels), 3, 32, 32), generator=generator)
        images = (palette[labels] + noise).clamp(0, 255).to(torch.uint8)
        write_cifar(ImageSet(images, {"fine": labels}, {"fine": CLASSES}, "cifar10", split), folder, "cifar10", split)
    return folder


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    return write_cifar10_fixture(tmp_path_factory.mktemp("data"))


def test_fixture_is_the_official_layout(cifar_root):
    "What the CIFAR-10 download extracts: five training batches, a test batch and the meta file, python pickles."
    folder = cifar_root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["batches.meta", "test_batch", *[f"data_batch_{i}" for i in range(1, 6)]])
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape[1] == 3072
    with open(folder / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"] == [c.encode() for c in CLASSES]


def _cli(*args) -> int:
    return main(["critical", *map(str, args)])


@pytest.fixture(scope="module")
def cli_runs(cifar_root, tmp_path_factory):
    """The paper commands with `--preset rehearsal`: train (with `--kw root=DIR`, once a TypeError), the independent-
    sensors removal sweep (with `--root DIR` and the original flags), window sensitivity, and the sensor variance of
    the trained run."""
    work = tmp_path_factory.mktemp("cli")
    store = work / "store.sqlite"
    common = ["--preset", "rehearsal", "--dataset", "cifar10", "--store", store, "--quiet"]
    codes = {
        "train": _cli("train", "--kw", f"root={cifar_root}", "--run-dir", work / "train", *common),
        "independent": _cli("sweep", "--root", cifar_root, "-d", "independent", "--arch", "split_resnet18_multihead",
                            "--name", "independent", "--run-dir", work / "independent", *common),
        "windows": _cli("windows", "--root", cifar_root, "--onsets", "0", "--run-dir", work / "windows", *common),
    }
    codes["variance"] = _cli("variance", "--run-dir", work / "train", "--preset", "rehearsal")
    codes["recovery"] = _cli("recovery", "--source", work / "independent", "--preset", "rehearsal", "--store", store)
    return work, RunStore(store), codes


def test_cli_rehearsal(cli_runs, cifar_root):
    work, store, codes = cli_runs
    assert codes == {"train": 0, "independent": 0, "windows": 0, "variance": 0, "recovery": 0}
    train = json.loads((work / "train" / "run.json").read_text())["config"]
    assert (train["dataset"], train["root"], train["model"]) == ("cifar10", str(cifar_root), "split_resnet18")
    assert train["model_kw"] == preset_config("critical.train", "rehearsal").model_kw
    for folder in ("train", "independent", "windows", "train/sensor_variance"):
        assert (work / folder / "result.json").is_file(), folder
    runs = store.runs()
    # train, the sweep (main and two removal points), the windows, recovery's epochs after removal with the lr restarted
    assert len(runs) == 1 + 3 + 2 + 1 and (runs.status == "finished").all()
    tests = store.metrics(split="test")
    assert set(runs.run_id) == set(tests.run_id)
    epochs = store.metrics(split="epoch")
    assert {"info_both_bits", "info_a_only_bits", "info_b_only_bits"} <= set(epochs.columns)
    curve = pd.DataFrame(load_result(work / "independent")["curve"])
    assert curve.removal_epoch.tolist() == preset_config("critical.removal", "rehearsal").removal_epochs
    assert curve.test_acc.between(0, 1).all()
    sweeps = removal_sweeps(store)
    assert sweeps.sweep.unique().tolist() == ["independent"] and sweeps.test_acc.notna().all()
    windows = pd.DataFrame(load_result(work / "windows")["windows"])
    assert windows.onset.tolist() == [0] and windows["drop"].notna().all()
    last = curve.removal_epoch.iloc[-1]
    recovery = load_result(work / "independent" / f"recovery-k{last}")
    assert [row["stage"] for row in recovery["stages"]][1] == "deficit, at removal" and recovery["verdict"]
    assert recovery["stages"][2]["head_both_acc"] == pytest.approx(curve.test_acc.iloc[-1])
    variance = load_result(work / "train" / "sensor_variance")["summary"]
    assert variance and 0 <= variance[0]["fraction_dominated_by_a"] <= 1


def test_report_rehearsal(cifar_root, tmp_path):
    "`neuronb report critical_periods --preset rehearsal --param data_root=DIR`: every figure drawn, no empty table."
    store_path = tmp_path / "runs" / "report.sqlite"
    [result] = run_reports(["critical_periods"], preset="rehearsal", out_dir=tmp_path / "reports",
                           parameters={"data_root": str(cifar_root), "store_path": str(store_path)}, log=lambda *a: None)
    audit = result.audit
    assert result.preset == "rehearsal" and result.html.is_file()
    assert audit.problems == []
    # images: the sensors' views, the variance histograms, the deep linear networks; plotly: the curves, the probes
    # of the independent-sensors trunk, the windows, usable information over training, at the end by removal epoch and
    # by window onset, the explorer; tables: settings, curves, probes, windows, variance summary, final usable information
    # by removal epoch and by window onset, theory, checks
    assert (audit.images, audit.plotly_figures, audit.tables) == (3, 7, 9)
    # the report's runs: the paper's reader, model family and recipe at the tiny sizes, every one finished
    store = RunStore(store_path)
    runs = store.runs()
    trained = runs[runs.kind == "critical.train"]
    # two removal sweeps, the windows, the independent sweep's epochs after removal with the learning rate restarted
    assert len(trained) == 3 + 3 + 3 + 1 and (runs.status == "finished").all()
    assert trained.name.str.endswith("-restart-2").sum() == 1
    configs = [json.loads(c) if isinstance(c, str) else c for c in trained.config]
    assert {(c["dataset"], c["root"], c["model_kw"]["width"], c["train"]["gamma"]) for c in configs} == {
        ("cifar10", str(cifar_root), 0.125, 0.97)}
    assert {c["model"] for c in configs} == {"split_resnet18", "split_resnet18_multihead"}
    assert set(store.metrics(split="test").run_id) == set(trained.run_id)
    sweeps = removal_sweeps(store)
    assert sweeps.groupby("sweep").removal_epoch.apply(list).to_dict() == {"blur": [0, 2], "independent": [0, 2]}
