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


def cpu_has_amx() -> bool:
    """True on CPUs with AMX tiles, where oneDNN runs bf16 convolutions much faster than fp32."""
    # torch reports only the AVX level (AVX512 on AMX machines), so ask the kernel's CPU flags.
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and "amx_bf16" in line for line in f)
    except OSError:
        return False


def resolve_precision(precision: Precision, device: torch.device) -> str:
    """`auto` is bf16 where the hardware runs it fast (CUDA with bf16, CPUs with AMX), else fp32."""
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ValueError("fp16 needs a CUDA device; use --precision bf16 or fp32 on a CPU")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_amx() else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass; a no-op in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])
