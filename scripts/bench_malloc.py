"""Training speed with glibc's malloc left as it is and with freed memory retained (`neuronb.core.retain_freed_memory`,
which every `Trainer` applies), side by side: each measurement in a fresh process, the two settings alternated.

    python scripts/bench_malloc.py [--workload engine critical] [--rounds 3]

engine:   `neuronb bench train`'s model and batch in the engine (`neuronb.bench.step_images_per_s`: resnet18_cifar at
          width 0.5, batch 128 of 32 px, bf16, two threads), 40 steps.
critical: the critical-period report's training (`critical.train`, quick preset, without usable information) as a
          sweep worker runs it: one torch thread, in a thread of its own; the second epoch is timed."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

WORKLOADS = ("engine", "critical")


class ChildFailed(RuntimeError):
    "A measuring process exited with an error."


def engine_images_per_s() -> float:
    import torch
    from neuronb.bench import step_images_per_s
    from neuronb.models import create
    torch.set_num_threads(2)
    return step_images_per_s(create("resnet18_cifar", num_classes=10, width=0.5), size=32, batch_size=128, steps=40)[0]


def critical_images_per_s() -> float:
    import tempfile
    from dataclasses import replace

    import torch
    from neuronb.experiments.protocol import preset_config, run
    from neuronb.store import RunStore
    config = preset_config("critical.train", "quick")
    config = replace(config, track_information=0, train=replace(config.train, epochs=2))
    out = {}

    def worker():                      # a Dask worker trains in a thread of its own, on one torch thread
        torch.set_num_threads(1)
        try:
            with tempfile.TemporaryDirectory() as folder:
                result = run("critical.train", config, store=RunStore(f"{folder}/store.db"), run_dir=f"{folder}/run")
                out["images_per_s"] = len(result.trainer.train_data) / result.history[-1]["seconds"]
        except Exception as e:         # raised again in the calling thread
            out["error"] = e
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["images_per_s"]


def child(workload: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    images_per_s = engine_images_per_s() if workload == "engine" else critical_images_per_s()
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"images_per_s": images_per_s, "page_faults": after.ru_minflt - before.ru_minflt,
                      "kernel_s": after.ru_stime - before.ru_stime, "seconds": time.perf_counter() - start}))


def measure(workload: str, retained: bool) -> dict:
    env = {**os.environ, "NEURONB_MALLOC_TUNING": "1" if retained else "0"}
    done = subprocess.run([sys.executable, __file__, "--child", workload], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ChildFailed(f"{workload} ({'retained' if retained else 'defaults'}) failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each setting, alternated")
    parser.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.rounds < 1:
        print(f"bench_malloc: --rounds must be >= 1, got {args.rounds}", file=sys.stderr)
        return 2
    for workload in args.workload:
        results = {False: [], True: []}
        for round_ in range(args.rounds):
            for retained in ((False, True) if round_ % 2 == 0 else (True, False)):
                try:
                    results[retained].append(measure(workload, retained))
                except ChildFailed as e:
                    print(f"bench_malloc: {e}", file=sys.stderr)
                    return 1
        print(f"{workload}: images/s per round (page faults, kernel seconds of the whole process)")
        for retained, name in ((False, "malloc's defaults"), (True, "freed memory retained")):
            rows = ", ".join(f"{r['images_per_s']:.1f} ({r['page_faults']:,}, {r['kernel_s']:.1f} s)"
                             for r in results[retained])
            print(f"  {name:22s} {rows}")
        medians = {k: statistics.median(r["images_per_s"] for r in v) for k, v in results.items()}
        print(f"  medians {medians[False]:.1f} vs {medians[True]:.1f} images/s: {medians[True] / medians[False]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
