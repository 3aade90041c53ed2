"""Thread settings for the pipelines, which already spread decode, encode and metrics over thread pools."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import cv2


@contextlib.contextmanager
def opencv_sequential() -> Iterator[None]:
    """OpenCV's own thread pool off while inside: the pipelines measure several frames at once in their
    worker threads, so per-call threads only contend with the model (the video warping term took
    6.5 CPU ms per 320x180 frame with OpenCV's default threads, 4.4 with them off, on 2 cores)."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(0)  # 0: run every OpenCV function sequentially in the calling thread
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
