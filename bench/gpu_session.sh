#!/usr/bin/env bash
# Everything GPU-specific in one call on a lent GPU machine (the device tool's `run`), results in $OUT:
#   1. the benchmark suite (`python -m bench`) on the GPU -> $OUT/bench.txt
#   2. the demo model trained on the GPU, exported as fp16 and scored -> $OUT/demo.safetensors, demo_score.json
# That machine has torch, scikit-image, opencv, imageio, typer, rich and safetensors but no imageio-ffmpeg:
# carry its wheel in .whl/ (see .library/device/README.md) and name .whl in `carry`.
#   DEMO_SECONDS (default 240) caps the demo training; BENCH_SECONDS (default 240) caps the suite.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"

timeout "${BENCH_SECONDS:-240}" python3 -m bench 2>&1 | tee "$OUT/bench.txt"
# temporal stabilization on the GPU (grid_sample path) at 1280x720: model vs stabilizer, fps with and without
timeout 180 python3 -m bench.temporal --speed-only --device cuda --speed-size 1280x720 --frames 24 --repeats 2 \
    2>&1 | tee "$OUT/temporal.txt"

cli() { python3 -m cyclegan_batch "$@"; }
cli demo "$OUT/demo" --no-videos --quiet
timeout "${DEMO_SECONDS:-240}" python3 -m cyclegan_batch train "$OUT/demo" "$OUT/demo-model" --preset demo \
    --seed 0 --device cuda --quiet 2>&1 | tail -5
cli export "$OUT/demo-model/generators.safetensors" "$OUT/demo.safetensors"
cli demo-score "$OUT/demo/heldout" --model "$OUT/demo.safetensors" --json | tee "$OUT/demo_score.json"
cp "$OUT/demo-model/losses.csv" "$OUT/demo_losses.csv"
rm -rf "$OUT/demo" "$OUT/demo-model"
