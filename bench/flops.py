"""The compute floor: FLOPs per training step or per frame, and the device's measured peak matrix rate.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions and matmuls, forward and
backward, 2 FLOPs per multiply-add) on the meta device, so counting a 1280x720 frame costs nothing.
The peak is what this device reaches on a large square matmul in the given dtype, measured now:
FLOPs / peak is the least time the work could take, and measured rate / (peak / FLOPs) the fraction
of that limit a benchmark reaches. On CUDA the fp32 peak uses TF32 tensor cores when cuDNN's
convolutions do (torch's default), so fp32 convolutions are held to the rate they actually run at.

    python -m bench.flops                 # peak TFLOP/s of this device, FLOPs of the paper's nets
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.train_step import plain_step_fn
from cyclegan_batch.device.precision import DTYPES, pick_device
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.train.config import build_config

META = torch.device("meta")


def counted_flops(run, *args: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        run(*args)
    return counter.get_total_flops()


def train_step_flops(size: int, batch: int = 1, ngf: int = 64, n_blocks: int = 9) -> int:
    """One training step of the paper's method (G step and D step, forward and backward) on size x size crops."""
    cfg = build_config("paper", dict(ngf=ngf, ndf=ngf, n_blocks=n_blocks, load_size=size, crop_size=size))
    step = plain_step_fn(cfg, META)  # the same math as the trainer, without its precision or layout choices
    a, b = (torch.empty(batch, 3, size, size, device=META) for _ in "ab")
    return counted_flops(step, a, b)


def generator_flops(height: int, width: int, spec: GeneratorSpec = GeneratorSpec()) -> int:
    """One generator pass over one frame (padded to a multiple of 4, as the engine does)."""
    with torch.device(META):
        net = ResnetGenerator(spec)
    x = torch.empty(1, 3, height + -height % 4, width + -width % 4, device=META)
    with torch.no_grad():
        return counted_flops(net, x)


@contextlib.contextmanager
def _tf32_like_cudnn(device: torch.device) -> Iterator[None]:
    previous = torch.backends.cuda.matmul.allow_tf32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def peak_matmul_flops(device: torch.device, precision: str, seconds: float = 1.0) -> float:
    """FLOP/s of a large square matmul in `precision` on `device`: the median of a few timed bursts."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(n, n, device=device).to(DTYPES[precision]) for _ in "ab")

    def burst(reps: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    with _tf32_like_cudnn(device):
        once = max(burst(1), burst(1))  # warm-up (kernel choice, AMX/oneDNN set-up), then a timing guess
        reps = max(1, int(seconds / 5 / once))
        rates = [2 * n**3 * reps / burst(reps) for _ in range(5)]
    return statistics.median(rates)


def main() -> None:
    device = pick_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{name}, {torch.get_num_threads()} threads")
    for precision in ("fp32", "bf16"):
        print(f"  peak matmul {precision}: {peak_matmul_flops(device, precision) / 1e12:8.3f} TFLOP/s")
    for size in (128, 256):
        print(f"  train step {size}x{size}, batch 1: {train_step_flops(size) / 1e9:8.1f} GFLOP")
    for h, w in ((256, 256), (720, 1280)):
        print(f"  generator pass {w}x{h}: {generator_flops(h, w) / 1e9:8.1f} GFLOP")


if __name__ == "__main__":
    main()
