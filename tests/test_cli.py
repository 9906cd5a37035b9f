"The `neuronb` command end to end, as a user runs it."
import json

import nbformat
import pytest

from conftest import cli, run_cli


def test_data_list_and_info(isolated):
    out = run_cli("data", "list")
    assert out.returncode == 0, out.stderr
    names = out.stdout.split()
    assert {"shapes", "digits", "photos", "headcam", "cifar10", "cifar100", "imagefolder"} <= set(names)
    info = cli("data", "info", "digits", "--split", "test")
    assert info.returncode == 0, info.stderr
    assert "digits/test" in info.stdout and "label fine: 10 classes" in info.stdout


def test_data_errors_name_the_problem(isolated, tmp_path):
    out = run_cli("data", "info", "nosuchdata")
    assert out.returncode == 2 and "nosuchdata" in out.stderr and "shapes" in out.stderr
    missing = tmp_path / "not_there"
    out = cli("data", "info", "cifar100", "--root", missing)
    assert out.returncode != 0 and str(missing) in out.stderr


def test_train_evaluate_store_roundtrip(isolated):
    run_dir = isolated / "run1"
    store = isolated / "s.sqlite"
    out = run_cli("train", "--model", "resnet18_cifar", "--dataset", "digits", "--epochs", "3", "--batch-size", "64",
                  "--set", "model_kw.width=0.125", "--set", "train.progress=false", "--store", store,
                  "--run-dir", run_dir)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["epochs"] == 3 and result["test"]["acc"] > 0.3        # 10 digit classes: chance is 0.1
    ev = cli("evaluate", run_dir)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["acc"] == pytest.approx(result["test"]["acc"], abs=1e-6)
    runs = cli("store", "runs", "--store", store)
    assert result["run_id"] in runs.stdout and "finished" in runs.stdout
    metrics = cli("store", "metrics", result["run_id"], "--store", store)
    assert "train_loss" in metrics.stdout and "val_acc" in metrics.stdout

    # resume: extend the same run to 4 epochs
    more = cli("train", "--model", "resnet18_cifar", "--dataset", "digits", "--epochs", "4", "--batch-size", "64",
               "--set", "model_kw.width=0.125", "--set", "train.progress=false", "--store", store,
               "--run-dir", run_dir, "--resume")
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["epochs"] == 4 and json.loads(more.stdout)["run_id"] == result["run_id"]


def test_train_rejects_unknown_config_key(isolated):
    out = run_cli("train", "--set", "train.learning_rate=0.1")
    assert out.returncode == 2 and "learning_rate" in out.stderr


def test_a_diverging_run_fails_with_the_reason(isolated):
    store = isolated / "nan.sqlite"
    out = run_cli("train", "--dataset", "digits", "--epochs", "2", "--lr", "1e6", "--set", "train.momentum=0",
                  "--set", "model_kw.width=0.125", "--set", "train.progress=false", "--store", store,
                  "--run-dir", isolated / "nan")
    assert out.returncode == 1 and "training loss is nan at epoch 0" in out.stderr and "Traceback" not in out.stderr
    assert "failed" in cli("store", "runs", "--store", store).stdout


def _report_source(folder, name: str, parameters: str, body: str):
    "A one-report source folder: `name.ipynb` with a tagged `parameters` cell and one code cell."
    folder.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def test_report_failure_names_notebook_and_cell(isolated, tmp_path):
    src = _report_source(tmp_path / "src", "divides", 'preset = "quick"', "1 / 0")
    out = run_cli("report", "--source", src, "--out", tmp_path / "out")
    assert out.returncode == 1
    assert "divides.ipynb" in out.stderr and "ZeroDivisionError" in out.stderr


def test_report_param_relative_to_caller(isolated, tmp_path):
    "--param KEY=VALUE reaches the report's parameters; a relative path means the caller's folder."
    src = _report_source(tmp_path / "src", "reads", 'preset = "quick"\nlimit = 0\ndata_file = None',
                         "assert limit == 3 and open(data_file).read() == 'mine'")
    (tmp_path / "mine.txt").write_text("mine")
    out = cli("report", "reads", "--source", src, "--out", tmp_path / "out", "--param", "limit=3",
              "--param", "data_file=mine.txt", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "reads.html").is_file()
    bad = cli("report", "reads", "--source", src, "--out", tmp_path / "out", "--param", "limit", cwd=tmp_path)
    assert bad.returncode == 2 and "--param expects key=value" in bad.stderr


def test_dry_run_prints_the_plan_and_runs_nothing(isolated):
    "`--dry-run` on any config-taking subcommand: the plan (epochs, steps, images, model size, disk), exit 0, no run."
    run_dir = isolated / "never"
    out = cli("train", "--preset", "tiny", "--dataset", "digits", "--set", "train.epochs=4", "--dry-run",
              "--run-dir", run_dir)
    assert out.returncode == 0, out.stderr
    lines = dict(line.strip().split(None, 1) for line in out.stdout.splitlines()[1:] if not line.startswith("  training"))
    assert "training runs   1 (4 epochs in all: 4)" in out.stdout and "images" in lines and "checkpoints" in lines
    train, val = [int(part.split()[1].replace(",", "")) for part in lines["images"].split(", ")[:2]]
    from neuronb.data import get_dataset
    assert train + val == len(get_dataset("digits", "train")) and val == round(0.1 * (train + val))
    assert "resnet18_cifar" in lines["model"] and not run_dir.exists()


def test_bench_data_is_wired_to_the_benchmark(monkeypatch, capsys):
    "`neuronb bench data --quick --workers 3` calls `bench_data` with those options (tests/test_streaming.py runs it)."
    import neuronb.bench
    from neuronb.cli import main
    called = {}
    monkeypatch.setattr(neuronb.bench, "bench_data", lambda **kw: called.update(kw))
    assert main(["bench", "data", "--quick", "--workers", "3", "--size", "96"]) == 0
    assert called["quick"] is True and called["num_workers"] == 3 and called["size"] == 96 and "batch_size" not in called
