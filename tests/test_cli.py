"The `neuronb` command end to end, as a user runs it."
import json

import nbformat
import pytest

from conftest import run_cli


def test_data_list_and_info(isolated):
    out = run_cli("data", "list")
    assert out.returncode == 0, out.stderr
    names = out.stdout.split()
    assert {"shapes", "digits", "photos", "headcam", "cifar10", "cifar100", "imagefolder"} <= set(names)
    info = run_cli("data", "info", "digits", "--split", "test")
    assert info.returncode == 0, info.stderr
    assert "digits/test" in info.stdout and "label fine: 10 classes" in info.stdout


def test_data_errors_name_the_problem(isolated, tmp_path):
    out = run_cli("data", "info", "nosuchdata")
    assert out.returncode == 2 and "nosuchdata" in out.stderr and "shapes" in out.stderr
    missing = tmp_path / "not_there"
    out = run_cli("data", "info", "cifar100", "--root", missing)
    assert out.returncode != 0 and str(missing) in out.stderr


def test_train_evaluate_store_roundtrip(isolated):
    run_dir = isolated / "run1"
    store = isolated / "s.sqlite"
    out = run_cli("train", "--model", "resnet18_cifar", "--dataset", "digits", "--epochs", "2", "--batch-size", "64",
                  "--set", "model_kw.width=0.125", "--set", "train.progress=false", "--store", store,
                  "--run-dir", run_dir)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["epochs"] == 2 and result["test"]["acc"] > 0.3        # 10 digit classes: chance is 0.1
    ev = run_cli("evaluate", run_dir)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["acc"] == pytest.approx(result["test"]["acc"], abs=1e-6)
    runs = run_cli("store", "runs", "--store", store)
    assert result["run_id"] in runs.stdout and "finished" in runs.stdout
    metrics = run_cli("store", "metrics", result["run_id"], "--store", store)
    assert "train_loss" in metrics.stdout and "val_acc" in metrics.stdout

    # resume: extend the same run to 3 epochs
    more = run_cli("train", "--model", "resnet18_cifar", "--dataset", "digits", "--epochs", "3", "--batch-size", "64",
                   "--set", "model_kw.width=0.125", "--set", "train.progress=false", "--store", store,
                   "--run-dir", run_dir, "--resume")
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["epochs"] == 3 and json.loads(more.stdout)["run_id"] == result["run_id"]


def test_train_rejects_unknown_config_key(isolated):
    out = run_cli("train", "--set", "train.learning_rate=0.1")
    assert out.returncode == 2 and "learning_rate" in out.stderr


def test_report_failure_names_notebook_and_cell(isolated, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('preset = "quick"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("1 / 0")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, src / "divides.ipynb")
    out = run_cli("report", "--source", src, "--out", tmp_path / "out")
    assert out.returncode == 1
    assert "divides.ipynb" in out.stderr and "ZeroDivisionError" in out.stderr
