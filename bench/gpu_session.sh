#!/usr/bin/env bash
# The GPU measurements of this project in one call, on a CUDA machine; results in $OUT (default /tmp/gpu-session):
#   1. the benchmark suite (`python -m bench`) on the GPU -> $OUT/bench.txt; the stabilizer at 1280x720
#      (`bench.temporal --speed-only --device cuda`) -> $OUT/temporal.txt
#   2. only with ENCODED_SECONDS > 0: stabilization judged on the encoded files with the stabilizer on the GPU
#      (`bench.temporal_encoded`, real clips from ../shared/data or /work/shared/data where present)
#      -> $OUT/temporal_encoded.txt. Off by default: the GPU path follows the CPU path's DIS flow and writes
#      its frames to 2 grey levels (tests/test_temporal.py), and in three tries this step never finished.
#   3. only with DEMO_MINUTES set (the pointwise `grade` preset now meets the demo's KID criterion on a CPU): a ResNet
#      candidate for a sharper bundled model (issue 21), the demo preset with a residual generator at the
#      demo's 128 px, trained on the GPU within DEMO_MINUTES, exported as fp16 and PSNR-scored
#      -> $OUT/demo.safetensors, demo_score.json, demo_losses.csv. Its KID is scored back on the CPU machine
#      (the Inception weights are too big to carry): bench/RESULTS.md, "A sharper demo model".
#   4. the GPU claim (issue 16) on the real card(s), first (seconds) -> $OUT/gpu_claim.txt, one PASS/FAIL a line
#   and the card, driver and torch build -> $OUT/gpu.txt
#
#   OUT=results/gpu bench/gpu_session.sh        # from a checkout; nothing is downloaded
#
# Needs: an NVIDIA GPU with its driver (`nvidia-smi`), python3 with a CUDA build of torch, and the package's
# dependencies (scikit-image, opencv, imageio, imageio-ffmpeg, typer, rich, safetensors). Wheels the machine
# lacks (imageio-ffmpeg is the usual one: it carries the ffmpeg binary) can be put in .whl/ of the checkout:
# the script installs them offline (`pip install --no-index --no-deps --target /tmp/site`) and puts
# /tmp/site on PYTHONPATH. The package itself runs from the checkout (PYTHONPATH), not installed.
#   BENCH_SECONDS (default 240) caps the suite, ENCODED_SECONDS (default 0: skipped) and ENCODED_FRAMES (default
#   30) the encoded-file bench, DEMO_MINUTES (default 0: skipped) the demo training (its lr decay is fitted into them).
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

# 4. The claim on real cards: a holder per card, then one more process that must fail at once (wait 0), one
# that waits and gets a card when the holders end, and a translate that names its card in the log.
claim_check() {
    local locks n holders=() rc waited out
    locks=$(mktemp -d) && export CYCLEGAN_BATCH_GPU_LOCKS=$locks
    n=$(python3 -c "from cyclegan_batch.device import gpu_claim; print(gpu_claim.device_count())")
    hold='from cyclegan_batch.device.precision import pick_device; import torch, time, sys, os, logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
d = pick_device("cuda"); x = torch.ones(1, device=d)
print(d, torch.cuda.get_device_name(d) if d.type == "cuda" else "(simulated)", flush=True)
while len(sys.argv) > 1 and not os.path.exists(sys.argv[1]): time.sleep(0.1)  # hold until told to stop'
    for ((i = 0; i < n; i++)); do
        python3 -c "$hold" "$locks/stop" >"$locks/holder$i.txt" 2>&1 &
        holders+=($!)
        until grep -qs 'claimed GPU' "$locks/holder$i.txt" || ! kill -0 $! 2>/dev/null; do sleep 0.2; done
    done
    for ((i = 0; i < n; i++)); do grep -q "claimed GPU $i " "$locks/holder$i.txt" && echo "PASS holder $i got GPU $i" \
        || echo "FAIL holder $i: $(cat "$locks/holder$i.txt")"; done
    CYCLEGAN_BATCH_GPU_WAIT=0 python3 -c "$hold" >"$locks/full.txt" 2>&1; rc=$?
    [ $rc -ne 0 ] && grep -q "no free GPU" "$locks/full.txt" && echo "PASS all $n taken: exit $rc, $(tail -1 "$locks/full.txt")" \
        || echo "FAIL all taken but: exit $rc $(cat "$locks/full.txt")"
    python3 -c "$hold" >"$locks/waiter.txt" 2>&1 &
    until grep -qs '^waiting' "$locks/waiter.txt" || ! kill -0 $! 2>/dev/null; do sleep 0.2; done
    touch "$locks/stop"
    wait $!; rc=$?
    waited=$(grep -c "^waiting for 1 free GPU" "$locks/waiter.txt")
    [ $rc -eq 0 ] && [ "$waited" -eq 1 ] && grep -q "claimed GPU .* after waiting" "$locks/waiter.txt" \
        && echo "PASS waited, then $(grep -o 'claimed GPU [0-9]* after waiting [0-9]* s' "$locks/waiter.txt")" \
        || echo "FAIL waiter: exit $rc $(cat "$locks/waiter.txt")"
    wait "${holders[@]}"
    out=$(python3 -c "$hold" 2>&1)  # not piped into grep -q: pipefail would count the writer's broken pipe
    grep -q "^claimed GPU 0 " <<<"$out" && echo "PASS free again after the holders exited" || echo "FAIL not freed: $out"
    python3 -m cyclegan_batch demo "$locks/demo" --no-videos --quiet
    python3 -m cyclegan_batch translate "$locks/demo/heldout/A" "$locks/out" --device cuda 2>&1 | grep "claimed GPU" \
        | sed 's/^/PASS translate log: /' || echo "FAIL translate named no card"
    rm -rf "$locks"
    unset CYCLEGAN_BATCH_GPU_LOCKS
}
claim_check 2>&1 | tee "$OUT/gpu_claim.txt"

timeout "${BENCH_SECONDS:-240}" python3 -m bench 2>&1 | tee "$OUT/bench.txt"
# temporal stabilization on the GPU (grid_sample path) at 1280x720: model vs stabilizer, fps with and without
timeout 180 python3 -m bench.temporal --speed-only --device cuda --speed-size 1280x720 --frames 24 --repeats 2 \
    2>&1 | tee "$OUT/temporal.txt"

if [ "${ENCODED_SECONDS:-0}" -gt 0 ]; then
    timeout "$ENCODED_SECONDS" python3 -m bench.temporal_encoded --frames "${ENCODED_FRAMES:-30}" --skip-speed \
        2>&1 | tee "$OUT/temporal_encoded.txt"
fi

cli() { python3 -m cyclegan_batch "$@"; }
if [ "${DEMO_MINUTES:-0}" != 0 ]; then
    cli demo "$OUT/demo" --no-videos --quiet
    cli train "$OUT/demo" "$OUT/demo-model" --preset demo --set residual=true --load-size 136 --crop-size 128 \
        --seed 0 --device cuda --minutes "$DEMO_MINUTES" --quiet 2>&1 | tail -5
    cli export "$OUT/demo-model/generators.safetensors" "$OUT/demo.safetensors"
    cli demo-score "$OUT/demo/heldout" --model "$OUT/demo.safetensors" --json | tee "$OUT/demo_score.json"
    cp "$OUT/demo-model/losses.csv" "$OUT/demo_losses.csv"
    rm -rf "$OUT/demo" "$OUT/demo-model"
fi
