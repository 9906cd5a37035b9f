"Tests of neuronb.store: round trips, the metrics pivot, concurrency, run status handling, raw_scores, bad paths."
import hashlib
import math
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import neuronb
from neuronb.store import RunStore, default_store_path

ROWS_PER_WRITER = 200


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "store.sqlite")


def _write_rows(store: RunStore, run_id: str, writer: int, count: int = ROWS_PER_WRITER):
    "One metric row per transaction, as a training loop logs."
    for i in range(count):
        store.log_metrics(run_id, epoch=i, metrics={"value": float(i)}, split=f"writer{writer}", step=i)


def _count_rows(store, run_id):
    long = store.metrics(run_id, wide=False)
    return long.groupby("split").size().to_dict()


def test_runs_round_trip_and_resume(store):
    config = {"lr": 0.1, "milestones": (60, 80), "deficit": {"kind": "blur", "end": 40}}
    run_id = store.start_run("cifar", config, seed=np.int64(7), kind="critical.deficit_sweep", notes="first")
    run = store.get_run(run_id)
    assert run["config"] == {"lr": 0.1, "milestones": [60, 80], "deficit": {"kind": "blur", "end": 40}}
    assert (run["name"], run["kind"], run["seed"], run["status"], run["notes"]) == \
        ("cifar", "critical.deficit_sweep", 7, "running", "first")
    assert run["package_version"] == neuronb.__version__ and run["ended"] is None
    store.finish_run(run_id, "interrupted")
    assert store.get_run(run_id)["status"] == "interrupted" and store.get_run(run_id)["ended"]
    assert store.start_run("cifar", config, run_id=run_id) == run_id       # resume
    assert store.get_run(run_id)["status"] == "running" and store.get_run(run_id)["ended"] is None
    store.finish_run(run_id)
    with pytest.raises(ValueError, match="already finished"):
        store.start_run("cifar", config, run_id=run_id)
    runs = store.runs()
    assert list(runs["run_id"]) == [run_id] and runs["config"].iloc[0]["lr"] == 0.1
    # continuing a finished run for more epochs reopens it with the new config
    assert store.start_run("cifar", {**config, "lr": 0.2}, run_id=run_id, reopen=True) == run_id
    assert store.get_run(run_id)["status"] == "running" and store.get_run(run_id)["config"]["lr"] == 0.2
    store.finish_run(run_id)
    with pytest.raises(KeyError, match="missing-run"):
        store.get_run("missing-run")
    with pytest.raises(ValueError, match="status must be one of"):
        store.finish_run(run_id, "done")
    with pytest.raises(TypeError, match="config"):
        store.start_run("bad", {"f": object()})


def test_config_match_finds_the_right_runs(store):
    ids = {}
    for end in (20, 40, 80):
        for seed in (0, 1):
            ids[end, seed] = store.start_run("sweep", {"deficit": {"end": end}, "lr": 0.1, "seed": seed}, seed=seed)
    store.finish_run(ids[40, 1])
    assert set(store.find_runs(config_match={"deficit.end": 40})["run_id"]) == {ids[40, 0], ids[40, 1]}
    assert list(store.find_runs(config_match={"deficit": {"end": 80}, "seed": 0})["run_id"]) == [ids[80, 0]]
    assert list(store.find_runs(status="finished", config_match={"lr": 0.1})["run_id"]) == [ids[40, 1]]
    assert store.find_runs(config_match={"lr": 0.2}).empty
    assert store.find_runs(config_match={"missing": None}).empty                # absent key != None
    assert len(store.find_runs(name="sweep")) == 6 and store.find_runs(name="other").empty


def test_metrics_round_trip_and_wide_pivot(store):
    a, b = store.start_run("a", {}), store.start_run("b", {})
    for epoch in range(2):
        store.log_metrics(a, epoch, {"loss": 1.0 + epoch, "acc": 0.5 * epoch})
        store.log_metrics(a, epoch, {"loss": 2.0 + epoch}, split="val")
    store.log_metrics(b, 0, {"loss": float("nan"), "acc": np.float32(0.25)}, split="test", step=10)
    long = store.metrics(wide=False)
    assert len(long) == 8 and long["step"].tolist()[-1] == 10
    wide = store.metrics([a, b])
    assert list(wide.columns) == ["run_id", "epoch", "split", "acc", "loss"] and len(wide) == 5
    indexed = wide.set_index(["run_id", "epoch", "split"])
    assert indexed.loc[(a, 1, "train"), "loss"] == 2.0 and indexed.loc[(a, 1, "train"), "acc"] == 0.5
    assert indexed.loc[(a, 1, "val"), "loss"] == 3.0 and math.isnan(indexed.loc[(a, 1, "val"), "acc"])
    assert math.isnan(indexed.loc[(b, 0, "test"), "loss"]) and indexed.loc[(b, 0, "test"), "acc"] == 0.25
    assert len(store.metrics(a)) == 4 and len(store.metrics(a, split="val")) == 2
    with pytest.raises(KeyError, match="unknown"):
        store.log_metrics("unknown", 0, {"loss": 1.0})
    with pytest.raises(ValueError, match="'loss'"):
        store.log_metrics(a, 0, {"loss": "low"})


def test_context_manager_statuses(store):
    with store.run("ok", {"a": 1}) as ok:
        pass
    with pytest.raises(RuntimeError):
        with store.run("failing", {}) as failing:
            raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt):
        with store.run("stopped", {}) as stopped:
            raise KeyboardInterrupt
    assert store.get_run(ok)["status"] == "finished"
    assert store.get_run(failing)["status"] == "failed" and "boom" in store.get_run(failing)["notes"]
    assert store.get_run(stopped)["status"] == "interrupted"


def test_concurrent_writers_lose_nothing_spawn(tmp_path):
    store = RunStore(tmp_path / "concurrent.sqlite")
    run_id = store.start_run("concurrency", {})
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(store, run_id, w)) for w in range(4)]
    thread = threading.Thread(target=_write_rows, args=(store, run_id, 4))
    for worker in workers:
        worker.start()
    thread.start()
    for worker in workers:
        worker.join(300)
    thread.join(300)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert _count_rows(store, run_id) == {f"writer{w}": ROWS_PER_WRITER for w in range(5)}


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_concurrent_writers_after_fork(tmp_path):
    "Forked children inherit an open connection and must open their own."
    store = RunStore(tmp_path / "forked.sqlite")
    run_id = store.start_run("concurrency", {})
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_rows, args=(store, run_id, w)) for w in range(4)]
    for worker in workers:
        worker.start()
    _write_rows(store, run_id, 4)                   # the parent keeps writing on its own connection
    for worker in workers:
        worker.join(300)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert sum(_count_rows(store, run_id).values()) == 5 * ROWS_PER_WRITER


def _write_original(path: Path, rows):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE raw_scores (model character, benchmark character, batchnorm boolean DEFAULT FALSE, "
               "score int, modification character, time timestamp)")
    db.executemany("INSERT INTO raw_scores (model, benchmark, time, score, modification, batchnorm) "
                   "VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def test_scores_raw_scores_view_and_import(store, tmp_path):
    run_id = store.start_run("wiring", {})
    score_id = store.add_score("CORnet-S", "dicarlo.MajajHong2015.IT-pls", 0.5, layer="IT.output-t1", run_id=run_id,
                               error=0.02, modification="CORnet-S_full_epoch_43", images=1000)
    scores = store.scores(run_id=run_id)
    row = scores.iloc[0]
    assert (row.id, row.model, row.layer, row.score, row.error, row.batchnorm, row.extra) == \
        (score_id, "CORnet-S", "IT.output-t1", 0.5, 0.02, False, {"images": 1000})
    raw = store.raw_scores()
    assert list(raw.columns) == ["model", "benchmark", "batchnorm", "score", "modification", "time"]
    assert raw.iloc[0].tolist()[:5] == ["CORnet-S", "dicarlo.MajajHong2015.IT-pls", False, 0.5, "CORnet-S_full_epoch_43"]

    original = tmp_path / "scores.sqlite"
    _write_original(original, [
        ("CORnet-S", "dicarlo.Kar2019-ost", "2019-11-15 10:00:00", 0.41, "CORnet-S_full_epoch_01", 0),
        ("CORnet-S", "dicarlo.Kar2019-ost", "2019-11-15 11:00:00", 0.43, "CORnet-S_full_epoch_01", 0),
        ("ResNet-50", "movshon.FreemanZiemba2013.V2-pls", "2021-08-29 09:00:00", 0.3, "ResNet-50_full", 1),
    ])
    assert store.import_raw_scores(original) == 3
    assert store.import_raw_scores(original) == 3                                # replaces, no duplicates
    raw = store.raw_scores()
    assert len(raw) == 4 and raw["batchnorm"].tolist() == [False, False, False, True]
    # the original analysis SQL (duplicates averaged) runs unchanged on this store
    means = pd.read_sql_query("SELECT modification, benchmark, AVG(score) AS score FROM raw_scores "
                              "GROUP BY modification, benchmark ORDER BY modification", store.connection)
    assert np.isclose(means.set_index("modification").loc["CORnet-S_full_epoch_01", "score"], 0.42)
    assert len(store.scores(batchnorm=True)) == 1 and len(store.scores(model=["ResNet-50", "CORnet-S"])) == 4

    no_table = tmp_path / "other.sqlite"
    sqlite3.connect(no_table).execute("CREATE TABLE things (x)").connection.close()
    with pytest.raises(ValueError, match="other.sqlite.*no raw_scores table"):
        store.import_raw_scores(no_table)
    with pytest.raises(FileNotFoundError, match="nothing.sqlite"):
        store.import_raw_scores(tmp_path / "nothing.sqlite")
    with pytest.raises(ValueError, match="cannot filter on 'lr'"):
        store.scores(lr=1)


def test_artifacts_round_trip_and_verify(store, tmp_path):
    run_id = store.start_run("a", {})
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"v1")
    assert store.add_artifact(run_id, checkpoint) == hashlib.sha256(b"v1").hexdigest()
    assert store.verify_artifact(checkpoint)
    checkpoint.write_bytes(b"v2")
    assert not store.verify_artifact(checkpoint)
    store.add_artifact(run_id, checkpoint, kind="checkpoint")
    table = store.artifacts(run_id)
    assert len(table) == 1 and table["sha256"].iloc[0] == hashlib.sha256(b"v2").hexdigest()
    assert table["path"].iloc[0] == str(checkpoint.resolve()) and table["bytes"].iloc[0] == 2
    assert store.verify_artifact(checkpoint)
    checkpoint.unlink()
    assert not store.verify_artifact(checkpoint)
    with pytest.raises(KeyError, match="never.pt"):
        store.verify_artifact(tmp_path / "never.pt")


def test_bad_paths_name_the_path(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}.*is a directory"):
        RunStore(tmp_path)
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database at all, but long enough to have a header")
    with pytest.raises(ValueError, match="notes.sqlite.*not a SQLite database"):
        RunStore(text)


def test_env_var_sets_the_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURONB_STORE", str(tmp_path / "env.sqlite"))
    assert default_store_path() == tmp_path / "env.sqlite"
    store = RunStore()
    store.start_run("env", {})
    assert store.path == tmp_path / "env.sqlite" and (tmp_path / "env.sqlite").is_file()


def test_import_does_not_load_torch():
    "Processes that only log to the store should not pay for importing torch."
    import subprocess
    import sys
    code = "import sys, neuronb.store; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
