"""How the pipelines share the cores: the one home of their concurrency policy.

- Disk and per-item work (decoding, encoding, metrics, training's data loading) runs in `io_workers()` threads
  or processes; the image pipeline's decode and encode pools have `codec_workers()` threads each.
- Model calls run in `ModelThreads`: on a CPU with 2+ threads, two calls at once, each with half of torch's
  intra-op threads (measured faster than one call with all of them: bench/RESULTS.md, appendix "Session 2",
  two model calls at once); elsewhere, or when two passes do not fit, one call with all of them
  (`model_calls`).
- OpenCV's own threads are off while a pipeline runs on the CPU (`opencv_sequential`): the pipelines' worker
  threads already measure several frames at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import cv2
import torch

MAX_IO_WORKERS = 4  # beyond this the disk, not the threads, sets the pace
CPU_MODEL_CALLS = 2

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_users = 0  # pipelines inside opencv_sequential() right now; OpenCV's setting is process-wide
_saved_threads = 0


def io_workers() -> int:
    """Threads (or processes) for decoding, encoding and per-item metrics: one per core, up to MAX_IO_WORKERS."""
    return min(MAX_IO_WORKERS, os.cpu_count() or 1)


def codec_workers() -> int:
    """Threads for decoding and for encoding images: one per core. Image codecs are CPU work that releases
    the GIL (Pillow, OpenCV), and on a GPU host they, not the model, set the pace: a card translates 256^2
    images faster than 4 cores decode and encode PNGs (bench/RESULTS.md, "CUDA GPU (current)")."""
    return os.cpu_count() or 1


def model_calls(device: torch.device, two_fit: bool) -> int:
    """How many model calls run at once: CPU_MODEL_CALLS on a CPU with 2+ torch threads when two passes fit
    (`two_fit`: in memory, and untiled, since tiling hooks the shared network), else 1."""
    return CPU_MODEL_CALLS if device.type == "cpu" and torch.get_num_threads() >= 2 and two_fit else 1


class ModelThreads(ThreadPoolExecutor):
    """Worker threads for model calls; each call runs with 1/`calls` of torch's intra-op threads.

    `calls` may change between calls (a big image runs alone with all the threads): the caller waits for the
    running calls first. torch's thread count is per OS thread under OpenMP, so each call sets its own; the
    count this process had is restored at shutdown (threads started later inherit the last one set).
    """

    def __init__(self, calls: int = CPU_MODEL_CALLS) -> None:
        super().__init__(CPU_MODEL_CALLS, thread_name_prefix="model")
        self.total = torch.get_num_threads()
        self.calls = calls

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        threads = max(1, self.total // self.calls)

        def call() -> R:
            torch.set_num_threads(threads)
            return fn(*args, **kwargs)

        return super().submit(call)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            super().shutdown(wait, cancel_futures=cancel_futures)
        finally:
            torch.set_num_threads(self.total)


@contextlib.contextmanager
def opencv_sequential(active: bool = True) -> Iterator[None]:
    """OpenCV's own threads off while inside (when `active`): with the model on the CPU, the pipelines'
    worker threads already measure several frames at once, so per-call threads only contend with the
    model (the warping term took more CPU time with OpenCV's threads than without). Nested and concurrent
    uses count references; the last one out restores the setting."""
    global _users, _saved_threads
    if not active:
        yield
        return
    with _lock:
        if _users == 0:
            _saved_threads = cv2.getNumThreads()
            cv2.setNumThreads(0)  # 0: every OpenCV function runs sequentially in its calling thread
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                cv2.setNumThreads(_saved_threads)
