import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NEURONB_TEST", "1")

# The slowest test files (pytest --durations on a fresh clone, 2026-12-03), slowest first. `make test` hands whole
# files to two processes in collection order; a long file left for the end would run alone while the other waits.
SLOWEST_FILES = ["test_rehearsal_critical.py", "test_browser.py", "test_rehearsal_babyvision.py", "test_cli.py",
                 "test_critical_cli.py", "test_rehearsal_v1.py", "test_rehearsal_bilateral.py",
                 "test_notebook_metadata.py", "test_ddp.py", "test_rehearsal_wiring.py"]


def pytest_collection_modifyitems(config, items):
    "Collect the slowest files first; every other file after them, each file's tests in their own order."
    rank = {name: i for i, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    "Point data/, runs/, reports/ and the store at a temporary folder."
    for var, sub in [("NEURONB_RUNS", "runs"), ("NEURONB_REPORTS", "reports")]:
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("NEURONB_STORE", str(tmp_path / "runs" / "store.sqlite"))
    return tmp_path


def run_cli(*args, env=None, cwd=None, timeout=600):
    "Run the installed `neuronb` command in a subprocess; return the CompletedProcess."
    import subprocess
    exe = Path(sys.executable).parent / "neuronb"
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env=full_env,
                          cwd=cwd or ROOT, timeout=timeout)


def cli_in_process(*argv) -> str:
    "Run `neuronb ARGV` in this process (as the installed command does); its stdout, exit status 0 asserted."
    import contextlib
    import io
    from neuronb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    assert status == 0, f"neuronb {' '.join(map(str, argv))} exited {status}:\n{err.getvalue()[-2000:]}"
    return out.getvalue()
