"""Thread settings for the pipelines, which already spread decode, model calls, encode and metrics over threads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import cv2
import torch

_lock = threading.Lock()
_users = 0  # pipelines inside opencv_sequential() right now; OpenCV's setting is process-wide
_saved_threads = 0


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


@contextlib.contextmanager
def torch_threads_shared_by(calls: int) -> Iterator[None]:
    """Torch's intra-op threads split between `calls` concurrent model calls while inside (a process-wide
    setting, restored after): one call's OpenMP threads then never wait on a core the other holds."""
    if calls <= 1:  # nothing to split: leave the process-wide setting alone
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // calls))
    try:
        yield
    finally:
        torch.set_num_threads(before)
