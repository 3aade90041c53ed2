"""Timing helpers shared by the translation benchmarks: wall clock and CPU time, medians, ratios."""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from cyclegan_batch.models.engine import BatchSize, Translator
from cyclegan_batch.util.threads import ModelThreads


def batch_size_arg(text: str) -> BatchSize:
    """--batch-size: "auto" (the tool's default, per device and frame size) or a positive number."""
    if text == "auto":
        return "auto"
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use auto or a positive number")
    return int(text)


def model_only(translator: Translator, frames: np.ndarray, batch_size: BatchSize, concurrent: bool = False) -> None:
    """The network alone over decoded frames already in memory: the ceiling a pipeline is measured against.

    `concurrent`: as many model calls at once as the video pipeline makes (`Translator.concurrent_calls`),
    so that its efficiency measures the work around the model, not a different way of running it.
    """
    height, width = frames.shape[1:3]
    batch_size = translator.batch_size_for(height, width, batch_size)
    calls = translator.concurrent_calls(height, width, batch_size) if concurrent else 1
    batches = [frames[start : start + batch_size] for start in range(0, len(frames), batch_size)]
    with ModelThreads(calls) as pool:
        list(pool.map(translator.translate, batches))
    if translator.device.type == "cuda":
        torch.cuda.synchronize()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): robust to other users' load."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of `run` over `repeats` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        run()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def ratios(rate: dict[str, float], cpu_ms: dict[str, float], ours: str, baseline: str) -> str:
    """Speed of `ours` over `baseline`: by wall-clock items/s and by CPU time per item."""
    return f"{rate[ours] / rate[baseline]:5.2f}x wall, {cpu_ms[baseline] / cpu_ms[ours]:5.2f}x CPU time"


def print_comparison(rate: dict[str, float], cpu_ms: dict[str, float]) -> None:
    """(a) ours against the naive recipe, (b) pipeline efficiency against the model alone.

    Wall-clock ratios swing with other users' load on a shared CPU; CPU-time ratios do not.
    """
    if "naive" in rate:
        print(f"(a) ours --no-cycle vs naive     {ratios(rate, cpu_ms, 'ours --no-cycle', 'naive')}  (same work)")
        print(f"    ours (with cycle) vs naive   {ratios(rate, cpu_ms, 'ours', 'naive')}  (twice the network work)")
    print(f"(b) efficiency --no-cycle        {ratios(rate, cpu_ms, 'ours --no-cycle', 'model only --no-cycle')}")
    print(f"    efficiency (with cycle)      {ratios(rate, cpu_ms, 'ours', 'model only')}")
