"""Corruption robustness of every trained V1 run in a folder, once generating the corruptions for each model and once
with one shared `CorruptionCache`, side by side in one process; prints both times and their ratio.

    python scripts/bench_corruption_cache.py runs/v1_constraints/quick/runs [--preset quick] [--threads 1]

The folder is what `make reports` leaves for the V1 report (one `v1.train-*` folder per variant)."""
import argparse
import sys
import time
from pathlib import Path

import torch

from neuronb.analysis.robustness import CorruptionCache
from neuronb.experiments import v1
from neuronb.experiments.protocol import list_presets, load_run, preset_config


def robustness_seconds(runs, config, cache) -> tuple[float, list]:
    "Seconds to measure every run's robustness table, the corrupted batches coming from `cache`, and the tables."
    tables, start = [], time.perf_counter()
    for run in runs:
        tables.append(v1.corrupted_accuracy(config, run.config, run.model, cache=cache))
    return time.perf_counter() - start, tables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of v1.train run folders")
    parser.add_argument("--preset", default="quick", choices=list_presets("v1.robustness"),
                        help="the v1.robustness preset (corruptions, severities, images)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a report lane has one)")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.folder.glob("v1.train-*") if p.is_dir()) if args.folder.is_dir() else []
    if not folders:
        print(f"bench_corruption_cache: {args.folder}: no v1.train-* run folders", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    try:
        runs = [load_run(folder) for folder in folders]
    except (OSError, ValueError, KeyError, RuntimeError) as e:    # a folder that is not a finished v1.train run
        print(f"bench_corruption_cache: {e}", file=sys.stderr)
        return 2
    config = preset_config("v1.robustness", args.preset, source_run=str(folders[0]))
    fresh, expected = robustness_seconds(runs, config, CorruptionCache(0))
    shared_cache = CorruptionCache()
    shared, tables = robustness_seconds(runs, config, shared_cache)
    same = all(a.equals(b) for a, b in zip(expected, tables))
    print(f"{len(runs)} models, {len(config.corruptions)} corruptions x {len(config.severities)} severities, "
          f"{args.threads} thread(s)")
    print(f"corrupting for every model: {fresh:6.1f} s")
    print(f"one shared cache:           {shared:6.1f} s  ({shared_cache.misses} batches corrupted, "
          f"{shared_cache.hits} copied, {shared_cache.bytes / 2**20:.0f} MiB kept)")
    print(f"ratio: {fresh / shared:.2f}x; tables identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
