#!/usr/bin/env bash
# The GPU figures of this project in one call on a bare CUDA machine, within 8 minutes; results in $OUT
# (default /tmp/gpu-session), each part saved the moment it finishes:
#   gpu.txt          the card, driver and torch build (or why there is no GPU here)
#   video.json       issue 30: 1280x720 video end to end against the model alone, --no-cycle and defaults;
#                    the decoder and encoder used (NVDEC/NVENC or why not)           (limit VIDEO_SECONDS, 120)
#   images.json      256x256 image folder, translate --no-cycle against the model alone          (45)
#   official.json    translate against the official test.py loop, 256 images of 256x256           (90)
#   train.json       the paper's step at batch 1: plain fp32 eager, ours, ours captured (--capture),
#                    and the captured step against the same step eager over 20 steps          (100)
#   nvenc.json       --crf -> NVENC -cq, by PSNR to the lossless frames (media/codecs.py's table) (50)
#   gpu_claim.txt    the GPU claim (issue 16) on the real card(s), one PASS/FAIL a line         (40)
#   summary.txt      every target of issue 30: met, not met, or unmeasured and why (bench/gpu_targets.py)
# Optional, off by default (they do not fit the 8 minutes): BENCH_SECONDS > 0 runs `python -m bench`,
# ENCODED_SECONDS > 0 stabilization judged on encoded files, DEMO_MINUTES a demo-model candidate (issue 21).
#
#   OUT=results/gpu bench/gpu_session.sh        # from a checkout; nothing is downloaded
#
# Needs: an NVIDIA GPU with its driver (`nvidia-smi`), python3 with a CUDA build of torch, and the package's
# dependencies. Wheels the machine lacks (imageio-ffmpeg is the usual one: it carries the ffmpeg binary) go in
# .whl/ of the checkout: the script installs them offline (`pip install --no-index --no-deps --target
# /tmp/site`) and puts /tmp/site on PYTHONPATH. The package itself runs from the checkout, not installed.
# Without a GPU it says so and every target stays unmeasured; a part that fails or runs out of time is
# recorded as unmeasured with the reason, and the next part runs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
summary() { python3 -m bench.gpu_targets --summary --out "$OUT" 2>&1 | tee "$OUT/summary.txt"; }
if ! command -v nvidia-smi >/dev/null || ! python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "no CUDA device here (nvidia-smi, or torch.cuda.is_available()): the GPU parts are skipped" | tee "$OUT/gpu.txt"
    summary
    exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"

# One part of bench/gpu_targets.py under a time limit; over it, the part is recorded as unmeasured.
part() {
    local name=$1 limit=$2
    timeout "$limit" python3 -m bench.gpu_targets --part "$name" --out "$OUT" --device cuda 2>&1 | tee "$OUT/$name.txt"
    if [ "${PIPESTATUS[0]}" -eq 124 ]; then
        echo "{\"unmeasured\": \"over its time limit of $limit s\"}" >"$OUT/$name.json"
    fi
}
part video "${VIDEO_SECONDS:-120}"
part images 45
part official 90
part train 100
part nvenc 50

# The claim on real cards: a holder per card, then one more process that must fail at once (wait 0), one
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
timeout 40 bash -c "$(declare -f claim_check); claim_check" 2>&1 | tee "$OUT/gpu_claim.txt"

if [ "${BENCH_SECONDS:-0}" -gt 0 ]; then
    timeout "$BENCH_SECONDS" python3 -m bench 2>&1 | tee "$OUT/bench.txt"
fi
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
summary
