"""Device and numeric-precision policy, shared by training and translation."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

from cyclegan_batch.device import distributed, gpu_claim

Precision = Literal["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(name: str = "auto") -> torch.device:
    """auto, cpu, cuda or cuda:N; plain `cuda` (and `auto` on a GPU machine) claims a free card for this process."""
    if name == "auto":
        name = "cuda" if gpu_claim.simulated() or torch.cuda.is_available() else "cpu"
    if name != "cuda":
        return torch.device(name)
    card = gpu_claim.process_card(distributed.local_rank())
    return torch.device("cpu") if gpu_claim.simulated() else torch.device("cuda", card.index)


# CPU flags (Linux /proc/cpuinfo names) with native bf16 dot products, best first. oneDNN runs bf16
# convolutions and matmuls on them faster than fp32; on AVX2-only CPUs bf16 is emulated and slower.
# Measured (bench/cpu_precision.py, bench/RESULTS.md): AMX (Xeon) and AVX512-BF16 (AMD Zen 4) both win.
BF16_CPU_FLAGS = {
    "amx_bf16": "AMX tiles",
    "avx512_bf16": "AVX512-BF16 dot products",
}


def cpu_flags() -> frozenset[str]:
    """The kernel's CPU flags (torch reports only the AVX level: AVX512 on AMX and on Zen 4 alike)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next(
                (frozenset(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), frozenset()
            )
    except OSError:
        return frozenset()


def choose_precision(
    precision: Precision, device: torch.device, flags: frozenset[str] | None = None
) -> tuple[str, str]:
    """The precision to run in and why, for logs and run.json: ("bf16", "auto: bf16, the CPU has avx512_bf16 ...").

    `auto` is bf16 where the hardware computes it natively (CUDA with bf16; CPUs with AMX or AVX512-BF16),
    else fp32, for translation and training alike. `flags` overrides /proc/cpuinfo's (tests).
    """
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ValueError("fp16 needs a CUDA device; use --precision bf16 or fp32 on a CPU")
        return precision, f"{precision}: asked for"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: bf16 on a CUDA device with bf16"
        return "fp32", "auto: fp32 on a CUDA device without bf16"
    flags = cpu_flags() if flags is None else flags
    for flag, what in BF16_CPU_FLAGS.items():
        if flag in flags:
            return "bf16", f"auto: bf16, the CPU has {flag} ({what})"
    return "fp32", "auto: fp32, the CPU has no native bf16 (no amx_bf16 or avx512_bf16 flag)"


def autocast(device: torch.device, precision: str, cache: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass; a no-op in fp32. `cache` False: no cache of weight casts (a
    captured CUDA graph must replay them: train/capture.py)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision], cache_enabled=cache)
