"""Test every notebook as `nbdev-test` does, each in a process of its own.

`nbdev-test --n-workers N` reuses its worker processes, so the classes, registrations and globals one notebook
defines are still there when the next notebook runs in the same worker; a notebook then passes or fails depending on
which notebooks ran before it in its worker. Here each notebook gets a fresh process, forked from a parent that has
already imported torch and neuronb, so the isolation costs a fork, not an import.

    python .ci/test_notebooks.py [--n-workers 2] [--timing] [--save-timing] [NOTEBOOK ...]

The slowest notebooks start first (seconds from `.ci/notebook_seconds.json`, which `--save-timing` rewrites; a
notebook not listed there counts as slow): with two workers, a long notebook left for the end would run alone.
"""
import argparse
import json
import multiprocessing
import os
import queue
import sys
import time
from pathlib import Path

os.environ["IN_TEST"] = "1"         # as nbdev-test sets it: neuronb reads it on import (one thread per process)

from nbdev.config import get_config  # noqa: E402
from nbdev.doclinks import nbglob  # noqa: E402
from nbdev.test import _keep_file, test_nb  # noqa: E402

# imported once here, shared by every forked notebook process: torch, matplotlib and the five systems
import matplotlib.pyplot  # noqa: E402,F401
import torch  # noqa: E402
from neuronb.experiments.protocol import _import_systems  # noqa: E402

_import_systems()


def _test_one(path: Path, kw: dict, results) -> None:
    "In a forked child: one notebook, its (passed, seconds) sent back."
    torch.set_num_threads(1)
    outcome = (False, 0.0)
    try:
        outcome = test_nb(path, **kw)
    finally:
        results.put((str(path), outcome))


def run_notebooks(files: list, kw: dict, n_workers: int) -> dict:
    """Each notebook in a child forked for it, `n_workers` at a time; {path: (passed, seconds)}. The children are
    ordinary (not daemonic) processes, so a notebook can start its own (DataLoader workers, a Dask cluster)."""
    ctx = multiprocessing.get_context("fork")
    results, pending, running, done = ctx.Queue(), list(files), {}, {}
    while pending or running:
        while pending and len(running) < n_workers:
            path = pending.pop(0)
            running[str(path)] = child = ctx.Process(target=_test_one, args=(path, kw, results))
            child.start()
        try:
            path, outcome = results.get(timeout=5)
            done[path] = outcome
            running.pop(path).join()
        except queue.Empty:             # a child that died without reporting (a crash) fails its notebook
            for path, child in list(running.items()):
                if not child.is_alive() and path not in done:
                    print(f"{Path(path).name}: its process ended with exit code {child.exitcode}", file=sys.stderr)
                    done[path] = (False, 0.0)
                    running.pop(path)
    return done


TIMING_FILE = Path(__file__).with_name("notebook_seconds.json")


def slowest_first(files: list, seconds: dict) -> list:
    "`files` ordered by their recorded seconds, longest first; unrecorded ones (new notebooks) first of all."
    return sorted(files, key=lambda f: -seconds.get(f.name, float("inf")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to test (default: every notebook nbdev-test would)")
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--timing", action="store_true", help="print each notebook's seconds, slowest first")
    parser.add_argument("--save-timing", action="store_true", help=f"write each notebook's seconds to {TIMING_FILE.name}")
    args = parser.parse_args(argv)
    cfg = get_config()
    skip_flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    files = [Path(f).absolute() for f in args.notebooks] if args.notebooks else \
        [f.absolute() for f in sorted(nbglob(as_path=True)) if _keep_file(f, ".notest")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"test_notebooks: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    kw = dict(skip_flags=skip_flags, force_flags=[], basepath=cfg.config_path, cell_timeout=cfg.cell_timeout or None)
    recorded = json.loads(TIMING_FILE.read_text()) if TIMING_FILE.is_file() else {}
    files = slowest_first(files, recorded)
    start = time.time()
    os.chdir(cfg.nbs_path)
    done = run_notebooks(files, kw, args.n_workers)
    results = [done[str(f)] for f in files]
    failed = [f.name for f, (passed, _) in zip(files, results) if not passed]
    if args.timing:
        for f, (_, seconds) in sorted(zip(files, results), key=lambda r: -r[1][1]):
            print(f"{f.name}: {int(seconds)} secs")
    if args.save_timing:
        seconds = {**recorded, **{f.name: round(s, 1) for f, (_, s) in zip(files, results)}}
        temporary = TIMING_FILE.with_suffix(".tmp")
        temporary.write_text(json.dumps(dict(sorted(seconds.items())), indent=0) + "\n")
        temporary.replace(TIMING_FILE)
    if failed:
        print(f"\nnotebook tests failed ({len(failed)} of {len(files)}):\n\t" + "\n\t".join(failed), file=sys.stderr)
        return 1
    print(f"Success: {len(files)} notebooks in {time.time() - start:.0f} s, each in its own process.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
