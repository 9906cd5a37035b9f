#!/usr/bin/env bash
# `neuronb bench train` on a GPU machine: the engine's GPU path (bf16 autocast, channels_last), eager and through
# torch.compile, at the benchmark's size and at a size that fills more of the GPU. Run from the repository root with
# a Python that has neuronb's requirements (the project's .venv, or a GPU image's own torch); logs go to $OUT
# (default gpu-bench/). Each stage's time limit can be set (EAGER_S, LARGE_S, COMPILED_S).
set -u
OUT=${OUT:-gpu-bench}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
python3 - <<'PY' 2>&1 | tee "$OUT/env.txt"
import torch, torchvision
print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)
print("gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
PY
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv 2>&1 | tee -a "$OUT/env.txt"
stage() {   # name, seconds, arguments of `neuronb bench train`
    local name=$1 limit=$2; shift 2
    echo "=== bench train $* (limit ${limit} s)"
    local t0=$(date +%s)
    timeout "$limit" python3 -m neuronb bench train "$@" 2>&1 | while IFS= read -r line; do
        echo "[$(( $(date +%s) - t0 )) s] $line"; done > "$OUT/$name.txt"
    echo "exit ${PIPESTATUS[0]} after $(( $(date +%s) - t0 )) s"
    grep -v "s\] W[0-9]" "$OUT/$name.txt" | tail -25
}
stage eager ${EAGER_S:-90}
stage eager_w1_b512 ${LARGE_S:-80} --width 1 --batch-size 512 --workers 8
stage compiled ${COMPILED_S:-170} --compile
