"""Where `neuronb bench train`'s engine step loses its share of the bf16 peak, on this machine.

    python scripts/bench_conv_layers.py [--threads 2] [--batch-size 128] [--steps 8]

1. The bf16 matmul peak (`neuronb.bench.matmul_peak`), measured in the same run.
2. Each 3x3 stride-1 convolution shape of the benchmark's model (resnet18_cifar at width 0.5, read off the model),
   alone, bf16 channels_last: forward, input gradient and weight gradient, in GFLOP/s.
3. The engine's own training steps (`neuronb.bench.step_images_per_s`), timed, then again under torch's profiler
   for the split of their time: the convolutions and in the memory-bound passes (batch norm, ReLU, adds, copies), and the share of the peak the step
   could reach if the convolutions took no time at all (its FLOPs over the memory-bound time)."""
import argparse
import time
from collections import defaultdict

import torch
from torch import nn

CONV_OPS = ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::_convolution", "aten::convolution")
MEMORY_BOUND_OPS = ("aten::native_batch_norm", "aten::native_batch_norm_backward", "aten::threshold_backward",
                    "aten::clamp_min", "aten::relu", "aten::relu_", "aten::add", "aten::add_", "aten::copy_")


def best_ms(fn, repeats: int = 10) -> float:
    "Fastest of `repeats` timings of `fn` (other load only ever lowers a timing), in ms, after two warm-up calls."
    for _ in range(2):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter(); fn(); best = min(best, time.perf_counter() - start)
    return best * 1e3


def conv_shapes(model: nn.Module, size: int) -> list[tuple[int, int, int]]:
    "(in channels, out channels, input px) of every distinct 3x3 stride-1 convolution `model` runs on `size`-px images."
    shapes = {}
    hooks = [m.register_forward_hook(lambda m, args, out: shapes.setdefault(
                 (m.in_channels, m.out_channels, args[0].shape[-1]), None))
             for m in model.modules()
             if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.stride == (1, 1) and m.groups == 1]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    return list(shapes)


def conv_layer_rates(shape: tuple[int, int, int], batch_size: int) -> dict[str, float]:
    "GFLOP/s of one bf16 channels_last 3x3 convolution of `shape` (padding 1): forward, input and weight gradients."
    cin, cout, px = shape
    as_cl = lambda t: t.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    x, w = as_cl(torch.randn(batch_size, cin, px, px)), as_cl(torch.randn(cout, cin, 3, 3))
    grad = as_cl(torch.randn(batch_size, cout, px, px))
    backward = lambda mask: torch.ops.aten.convolution_backward(grad, x, w, None, [1, 1], [1, 1], [1, 1], False,
                                                                [0, 0], 1, mask)
    gflop = 2 * batch_size * cout * cin * 9 * px * px / 1e9
    return {"forward": gflop / best_ms(lambda: nn.functional.conv2d(x, w, padding=1)) * 1e3,
            "input gradient": gflop / best_ms(lambda: backward([True, False, False])) * 1e3,
            "weight gradient": gflop / best_ms(lambda: backward([False, True, False])) * 1e3}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="profiled engine steps (after two untimed ones)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.batch_size < 1 or args.steps < 1:
        parser.error("--threads, --batch-size and --steps must be at least 1")

    from neuronb.bench import cpu_description, matmul_peak, step_images_per_s, training_step_flops
    from neuronb.core import retain_freed_memory
    from neuronb.models import create
    torch.set_num_threads(args.threads)
    retain_freed_memory()
    make = lambda: create("resnet18_cifar", num_classes=10, width=0.5)

    peak = matmul_peak(torch.bfloat16)
    print(f"{cpu_description()}; {args.threads} thread(s); bf16 matmul peak {peak / 1e9:,.0f} GFLOP/s")
    print(f"3x3 convolutions alone, bf16 channels_last, batch {args.batch_size} (GFLOP/s):")
    for shape in conv_shapes(make(), 32):
        rates = conv_layer_rates(shape, args.batch_size)
        print(f"  {shape[0]:4d} -> {shape[1]:4d} channels at {shape[2]:2d} px: " +
              ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items()))

    from torch.profiler import ProfilerActivity, profile
    model = make()
    flops = training_step_flops(model, torch.randn(8, 3, 32, 32), 10) / 8 * args.batch_size
    # the profiler slows small ops down: the step's time is measured without it, its split with it
    images_per_s, _ = step_images_per_s(model, size=32, batch_size=args.batch_size, steps=args.steps + 2)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step_images_per_s(model, size=32, batch_size=args.batch_size, steps=args.steps + 2)
    seconds = defaultdict(float)       # self time per group, over the profiled steps (the two untimed ones included)
    for event in prof.key_averages():
        group = "convolutions" if event.key in CONV_OPS else "memory-bound" if event.key in MEMORY_BOUND_OPS else "other"
        seconds[group] += event.self_cpu_time_total / 1e6
    total = sum(seconds.values())
    step_ms = args.batch_size / images_per_s * 1e3
    print(f"engine steps: {images_per_s:.1f} images/s ({step_ms:.0f} ms a step, {flops / 1e9:.1f} GFLOP), "
          f"{flops / (step_ms / 1e3) / peak:.1%} of the peak")
    print("  profiled self time: " + ", ".join(f"{group} {seconds[group] / total:.0%}"
                                              for group in ("convolutions", "memory-bound", "other")))
    memory_bound_ms = step_ms * seconds["memory-bound"] / total
    print(f"  memory-bound passes about {memory_bound_ms:.0f} ms a step: with convolutions taking no time the step "
          f"could reach at most {flops / (memory_bound_ms / 1e3) / peak:.0%} of the peak")


if __name__ == "__main__":
    main()
