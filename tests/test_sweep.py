"""Sweeps on a 2-worker local Dask cluster: every run recorded once, a killed worker's run is retried and resumes
from its checkpoint, a finished sweep does no work, two copies of one run at once train it once."""
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from neuronb.store import RunStore
from neuronb.experiments.runs import LOCK_NAME, execute_run, expand_spec, run_lock, run_status
from neuronb.sweep import connect, run_sweep


def _spec(root, epochs=1, lrs=(0.1, 0.05, 0.02), seeds=(), checkpoint_every=0):
    return {"name": "test", "protocol": "classification", "root": str(root),
            "base": {"model": "resnet18_cifar", "model_kw": {"width": 0.0625}, "dataset": "shapes",
                     "dataset_kw": {"n_per_class": 4},
                     "train": {"epochs": epochs, "batch_size": 16, "progress": False,
                               "checkpoint_every": checkpoint_every}},
            "grid": {"train.lr": list(lrs)}, "seeds": list(seeds)}


@pytest.fixture(scope="module")
def client():
    with connect(workers=2) as client:
        yield client


def test_sweep_records_every_run_and_rerun_does_nothing(client, tmp_path):
    store = RunStore(tmp_path / "store.sqlite")
    spec = _spec(tmp_path / "runs")
    table = run_sweep(spec, store=store, client=client, progress=False)
    assert len(table) == 3 and (table["status"] == "finished").all()
    assert table.attrs["submitted"] == 3 and table.attrs["failed"] == 0
    assert table["test_acc"].between(0, 1).all()
    sweeps = store.find_runs(kind="sweep")
    assert sorted(sweeps["run_id"]) == sorted(table["run_id"]) and (sweeps["status"] == "finished").all()
    assert len(store.find_runs(kind="classification", status="finished")) == 3
    ended = sorted(sweeps["ended"])
    again = run_sweep(spec, store=store, progress=False)     # no client: it must not even start a cluster
    assert again.attrs["submitted"] == 0
    assert sorted(store.find_runs(kind="sweep")["ended"]) == ended
    assert len(store.runs()) == 6


def _worker_pid(client, key):
    for address, keys in client.processing().items():
        if key in keys:
            return client.run(os.getpid, workers=[address])[address]
    return None


def test_killed_worker_loses_nothing_and_its_run_resumes(client, tmp_path):
    store = RunStore(tmp_path / "store.sqlite")
    spec = _spec(tmp_path / "runs", epochs=4, lrs=(0.1,), seeds=(0, 1, 2), checkpoint_every=1)
    runs = expand_spec(spec)
    killed = {}

    def kill_one_after_its_first_checkpoint():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in runs:
                folder = Path(run.run_dir) / "checkpoints"
                if (folder / "epoch_0001.pt").is_file() and (folder / "last.pt").is_file() and \
                        run_status(store, [run.run_id]).get(run.run_id) == "running":
                    pid = _worker_pid(client, f"neuronb-sweep-{run.run_id}")
                    if pid:
                        os.kill(pid, signal.SIGKILL)
                        killed[run.run_id] = pid
                        return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_after_its_first_checkpoint, daemon=True)
    killer.start()
    table = run_sweep(spec, store=store, client=client, progress=False)
    killer.join()
    assert killed, "no run was caught between its first checkpoint and its end"
    assert (table["status"] == "finished").all() and table.attrs["failed"] == 0
    sweeps = store.find_runs(kind="sweep")
    assert sorted(sweeps["run_id"]) == sorted(r.run_id for r in runs)          # each run recorded once
    trained = store.find_runs(kind="classification")
    assert (trained["status"] == "finished").sum() == 3                          # the killed run resumed its record
    assert len(trained) == 3, trained[["status", "notes"]]
    (killed_id,) = killed
    result = json.loads((Path(next(r.run_dir for r in runs if r.run_id == killed_id)) / "result.json").read_text())
    assert result["resumed"] is True and result["final_epoch"] == 3
    epochs = store.metrics(trained["run_id"][list(trained["config"].map(lambda c: c["train"]["seed"])).index(
        runs[[r.run_id for r in runs].index(killed_id)].config["seed"])], split="epoch")["epoch"]
    assert sorted(set(epochs)) == [0, 1, 2, 3]


def _flock_waiters(path: Path) -> int | None:
    "Processes blocked on the flock of `path` (Linux /proc/locks), or None where that cannot be read."
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    inode = f":{path.stat().st_ino} "
    return sum("->" in line and "FLOCK" in line and inode in line for line in lines)


def test_two_copies_of_one_run_train_it_once(client, tmp_path):
    """Dask may run a task twice (a worker presumed dead) and two users may launch one sweep: both copies of the run
    start in two worker processes while the run's lock is held here; once it is released, one trains and the other
    waits, then returns the recorded result."""
    store = RunStore(tmp_path / "store.sqlite")
    (run,) = expand_spec(_spec(tmp_path / "runs", lrs=(0.1,)))
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    with run_lock(run.run_dir) as lock_file:
        copies = [client.submit(execute_run, run, str(store.path), key=f"copy-{i}-{run.run_id}", workers=[worker],
                                allow_other_workers=False, pure=False) for i, worker in enumerate(workers)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:            # both copies wait on the lock (both are in execute_run)
            waiting = _flock_waiters(lock_file)
            if waiting is None:                        # no /proc/locks here: give both copies time to reach it
                time.sleep(3)
                break
            if waiting == 2:
                break
            time.sleep(0.05)
        assert _flock_waiters(lock_file) in (2, None)
        assert not any(f.done() for f in copies) and run_status(store, [run.run_id]) == {}
    first, second = client.gather(copies)
    assert sorted([first["executed"], second["executed"]]) == [False, True]
    assert {k: v for k, v in first.items() if k != "executed"} == {k: v for k, v in second.items() if k != "executed"}
    assert 0 <= first["test_acc"] <= 1
    assert len(store.find_runs(kind="sweep")) == 1 and len(store.find_runs(kind="classification")) == 1
    assert len(store.metrics(run.run_id, split="result")) == 1
    assert len(store.metrics(split="test")) == 1
    assert (Path(run.run_dir) / LOCK_NAME).is_file()
