"`neuronb critical` (the original main.py flags on top of the presets) and the example sweep spec of the critical periods."
import json

import pandas as pd
import yaml

from conftest import ROOT, cli, run_cli
from neuronb.experiments.runs import expand_spec, load_result, run_inline


def test_critical_train_variance_sweep(isolated):
    "The original flags' meaning: --schedule N --slow is N epochs of x0.97 decay; -1..1 is a deficit in epoch 0."
    store = isolated / "c.sqlite"
    common = ["--preset", "tiny", "--kw", "n_per_class=8", "--width", "0.125", "--batch-size", "64", "--store", store,
              "--quiet"]
    out = run_cli("critical", "train", "--schedule", "2", "--slow", "--deficit", "downsample", "--deficit-start", "-1",
                  "--deficit-end", "1", "--track-information", "1", "--run-dir", isolated / "run", *common)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["epochs"] == 2
    run = json.loads((isolated / "run" / "run.json").read_text())
    config = run["config"]
    assert run["protocol"] == "critical.train"
    assert (config["deficit"], config["deficit_start"], config["deficit_end"]) == ("blur", 0, 1)
    assert config["train"]["schedule"] == "exp" and config["train"]["gamma"] == 0.97
    metrics = cli("store", "metrics", result["run_id"], "--store", store)
    assert "info_b_only_bits" in metrics.stdout
    variance = cli("critical", "variance", "--run-dir", isolated / "run", "--n-batches", "2")
    assert variance.returncode == 0, variance.stderr
    assert "fraction_dominated_by_a" in variance.stdout and "0.9" in variance.stdout      # the library's threshold
    assert (isolated / "run" / "sensor_variance" / "result.json").is_file()
    sweep = run_cli("critical", "sweep", "--schedule", "2", "--slow", "--removal-epochs", "0", "1", "--post-epochs", "1",
                    "--run-dir", isolated / "sweep", *common)
    assert sweep.returncode == 0, sweep.stderr
    assert (isolated / "sweep" / "main" / "checkpoints" / "epoch_0001.pt").is_file()
    assert [row["removal_epoch"] for row in load_result(isolated / "sweep")["curve"]] == [0, 1]
    bad = cli("critical", "train", "--deficit-start", "5", "--deficit-end", "3", *common)
    assert bad.returncode == 2 and "deficit_start=5" in bad.stderr


def test_kw_root_is_the_config_root(isolated):
    "`--kw root=DIR` (issue 19) reaches the dataset reader once, as `--root DIR` does, instead of crashing."
    for flags in (["--kw", f"root={isolated / 'nowhere'}"], ["--root", isolated / "nowhere"]):
        out = cli("critical", "train", "--preset", "tiny", "--dataset", "cifar10", *flags, "--quiet")
        assert out.returncode == 2 and "multiple values" not in out.stderr, out.stderr
        assert "does not exist" in out.stderr and "nowhere" in out.stderr
    clash = cli("critical", "train", "--preset", "tiny", "--root", "a", "--kw", "root=b")
    assert clash.returncode == 2 and "root given twice" in clash.stderr


def test_example_spec_runs_at_tiny_size(isolated):
    "examples/critical.yaml expands to its grid x seeds; at the tiny preset its runs finish and record their curves."
    spec = yaml.safe_load((ROOT / "examples" / "critical.yaml").read_text())
    assert spec["protocol"] == "critical.removal" and spec["preset"] == "quick"
    runs = expand_spec(spec)
    assert len(runs) == 4 and {(r.params["deficit_kw.factor"], r.params["seed"]) for r in runs} == {
        (4, 0), (4, 1), (8, 0), (8, 1)}
    assert all(r.config["removal_epochs"] == [0, 8, 16, 24] for r in runs)
    tiny = {**spec, "preset": "tiny", "seeds": [0], "root": str(isolated / "sweep"), "store": str(isolated / "s.sqlite")}
    table = run_inline(tiny)
    assert len(table) == 2 and (table.status == "finished").all()
    assert table.acc_no_deficit.between(0, 1).all() and table.acc_longest_deficit.between(0, 1).all()
    for run_dir in table.run_dir:
        curve = pd.DataFrame(load_result(run_dir)["curve"])
        assert curve.removal_epoch.tolist() == [0, 2] and curve.test_acc.between(0, 1).all()
    again = run_inline(tiny)                   # finished runs are not trained again
    assert again.run_id.tolist() == table.run_id.tolist() and (again.status == "finished").all()
