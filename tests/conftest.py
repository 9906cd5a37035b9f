import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NEURONB_TEST", "1")

# Seconds per test file in the last timed run (`python -m pytest -n 2 --dist loadfile --save-timing` rewrites it).
# `make test` hands whole files to two processes in collection order; a long file left for the end would run alone
# while the other process waits, so the slowest files are collected first (a file not in it counts as slow).
FILE_SECONDS = ROOT / ".ci" / "test_file_seconds.json"


def pytest_addoption(parser):
    parser.addoption("--save-timing", action="store_true",
                     help=f"write each test file's seconds (setup, call and teardown) to {FILE_SECONDS.relative_to(ROOT)}")


def file_seconds() -> dict[str, float]:
    "Seconds per test file name from the last `--save-timing` run ({} when there is none)."
    try:
        return {str(k): float(v) for k, v in json.loads(FILE_SECONDS.read_text()).items()}
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError) as e:
        raise pytest.UsageError(f"{FILE_SECONDS}: expected a JSON object of test file name -> seconds ({e})")


def pytest_collection_modifyitems(config, items):
    "Collect the slowest files first; every other file after them, each file's tests in their own order."
    seconds = file_seconds()
    slow = max(seconds.values(), default=0.0) + 1
    items.sort(key=lambda item: -seconds.get(item.path.name, slow))


_measured: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    _measured[Path(report.fspath).name] += report.duration       # under xdist: the reports the controller receives


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if config.getoption("--save-timing") and not hasattr(config, "workerinput") and _measured:
        tmp = FILE_SECONDS.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: round(v, 1) for k, v in sorted(_measured.items(), key=lambda kv: -kv[1])},
                                  indent=1) + "\n")
        tmp.replace(FILE_SECONDS)


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


def cli(*argv, cwd=None):
    """Run `neuronb ARGV` in this process, as the installed command's entry point does (an argparse error is exit 2);
    a CompletedProcess. Saves a Python + torch start-up per call; `run_cli` keeps the real command for the tests of
    the installed executable."""
    import contextlib
    import io
    import subprocess
    from neuronb.cli import main
    argv = [str(a) for a in argv]
    out, err, here = io.StringIO(), io.StringIO(), Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as e:            # argparse: usage errors and --help
                status = e.code if isinstance(e.code, int) else (0 if e.code is None else print(e.code, file=sys.stderr) or 1)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["neuronb", *argv], status, out.getvalue(), err.getvalue())


def cli_in_process(*argv) -> str:
    "Run `neuronb ARGV` in this process; its stdout, exit status 0 asserted."
    done = cli(*argv)
    assert done.returncode == 0, f"neuronb {' '.join(done.args[1:])} exited {done.returncode}:\n{done.stderr[-2000:]}"
    return done.stdout
