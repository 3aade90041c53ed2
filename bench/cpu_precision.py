"""bf16 against fp32 on this CPU, same run: the measurement behind `precision=auto` on CPUs.

    python -m bench.cpu_precision                 # matmul, generator forward, training step; 3 rounds
    python -m bench.cpu_precision --rounds 5 --train-size 128

Rows, each bf16 over fp32 in alternating rounds (medians), so that other users' load hits both alike:
- matmul: a 2048^2 matmul (bench/flops.py's peak), TFLOP/s;
- generator forward: the paper's generator (ngf 64, 9 blocks) on 256x256 frames through the inference
  engine (`Translator`, G only, bf16 weights vs fp32 weights, channels-last), frames/s;
- training step: `CycleGANStep` of the demo preset's networks (ngf 32, 4 blocks) at --train-size, bf16
  autocast vs fp32, steps/s.
The CPU's model name and its bf16-related flags are printed with the figures.

An AVX2-only CPU, as far as the convolutions go, on a newer one: `ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2 python -m bench.cpu_precision` (oneDNN and ATen's own kernels then use AVX2 at
most, so bf16 has no native dot product; torch's bf16 matmul may still pick its own kernel by the CPU's
flags, so the matmul row is not limited). The header shows those variables when set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from bench.flops import peak_matmul_flops
from cyclegan_batch.device.precision import BF16_CPU_FLAGS, choose_precision, cpu_flags
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.step import CycleGANStep

PRECISIONS = ("fp32", "bf16")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")
    except OSError:
        return "unknown CPU"


def rate(run: Callable[[], None], items: int, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return items * repeats / (time.perf_counter() - start)


def generator_runs(size: int) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    spec = GeneratorSpec()
    model = Generators(ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec))
    frames = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    runs = {}
    for precision in PRECISIONS:
        translator = Translator(model, device="cpu", precision=precision, cycle=False)
        runs[precision] = lambda t=translator: t.translate(frames)
    return runs


def train_runs(size: int) -> dict[str, Callable[[], None]]:
    cfg = build_config("demo", dict(load_size=size, crop_size=size))
    a, b = (torch.rand(1, 3, size, size) * 2 - 1 for _ in "ab")
    runs = {}
    for precision in PRECISIONS:
        step = CycleGANStep(cfg, torch.device("cpu"), precision, torch.contiguous_format)
        runs[precision] = lambda s=step: s.train_step(a, b)
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=256, help="generator forward frame side")
    p.add_argument("--train-size", type=int, default=64, help="training crop side (demo preset networks)")
    args = p.parse_args()
    flags = sorted(f for f in cpu_flags() if f in BF16_CPU_FLAGS or f.startswith(("avx512f", "avx2", "amx")))
    chosen, why = choose_precision("auto", torch.device("cpu"))
    print(f"# {cpu_model()}, flags {' '.join(flags)}; {torch.get_num_threads()} threads, torch {torch.__version__}")
    limits = " ".join(f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if k in os.environ)
    print(f"# load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; precision auto -> {why}", flush=True)
    if limits:
        print(f"# ISA limited: {limits}", flush=True)

    results: dict[str, dict[str, list[float]]] = {}
    gen, trn = generator_runs(args.size), train_runs(args.train_size)
    for runs in (gen, trn):  # warm-up: oneDNN kernel choice, allocator
        for run in runs.values():
            run()
    for _ in range(args.rounds):
        for precision in PRECISIONS:
            row = results.setdefault("matmul 2048^2 (TFLOP/s)", {})
            row.setdefault(precision, []).append(peak_matmul_flops(torch.device("cpu"), precision, 0.5) / 1e12)
            row = results.setdefault(f"generator forward, paper nets, {args.size}^2 (frames/s)", {})
            row.setdefault(precision, []).append(rate(gen[precision], 1, 2))
            row = results.setdefault(f"training step, demo nets, {args.train_size}^2, batch 1 (steps/s)", {})
            row.setdefault(precision, []).append(rate(trn[precision], 1, 3))
    print(f"\n| measurement (median of {args.rounds} alternating rounds) | fp32 | bf16 | bf16 / fp32 |")
    print("|---|---:|---:|---:|")
    for name, by_precision in results.items():
        fp32, bf16 = (statistics.median(by_precision[p]) for p in PRECISIONS)
        print(f"| {name} | {fp32:.3f} | {bf16:.3f} | **{bf16 / fp32:.2f}x** |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; auto chose {chosen}")


if __name__ == "__main__":
    main()
