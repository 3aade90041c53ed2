"""Step 4 of prepare: convert one image in a worker process (decode, normalize, resize, write atomically).

`Conversion` holds everything that decides a prepared file's bytes; `worker_pool` is the process pool
the conversions (and the hashing) run in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from cyclegan_batch.media.images import (
    DEFAULT_MAX_PIXELS,
    PAPER_CROP_SIZE,
    PAPER_LOAD_SIZE,
    WHITE,
    ImageLoadError,
    open_image,
    resize_shorter,
    to_rgb,
)
from cyclegan_batch.util.atomic import atomic_output


@dataclass(frozen=True)
class Conversion:
    """Everything that decides a prepared file's bytes (its fingerprint invalidates old outputs)."""

    load_size: int = PAPER_LOAD_SIZE
    crop_size: int = PAPER_CROP_SIZE
    image_format: Literal["png", "jpg"] = "png"
    background: tuple[int, int, int] = WHITE
    max_pixels: int = DEFAULT_MAX_PIXELS
    allow_truncated: bool = False
    upscale_small: bool = False

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Job:
    source: str
    output: str  # absolute
    conversion: Conversion


def convert(job: Job) -> dict[str, Any]:
    """Read, normalize, resize and write one image; returns the record fields it decides."""
    conv = job.conversion
    try:
        img = open_image(Path(job.source), max_pixels=conv.max_pixels, allow_truncated=conv.allow_truncated)
        width, height = img.size
        fields: dict[str, Any] = dict(width=width, height=height, mode=img.mode)
        if min(width, height) < conv.crop_size and not conv.upscale_small:
            why = f"too small: {width}x{height} is under the crop size {conv.crop_size} (--upscale-small enlarges it)"
            return dict(fields, status="skipped", reason=why)
        pixels = resize_shorter(np.asarray(to_rgb(img, conv.background)), conv.load_size)
    except ImageLoadError as e:
        return dict(status="failed", reason=str(e))
    except Exception as e:  # decoders raise anything on hostile bytes; one file must not end the batch
        return dict(status="failed", reason=f"cannot decode: {type(e).__name__}: {e}")
    with atomic_output(Path(job.output)) as tmp:
        if conv.image_format == "jpg":
            Image.fromarray(pixels).save(tmp, format="JPEG", quality=95)
        else:
            Image.fromarray(pixels).save(tmp, format="PNG")
    return dict(fields, status="ok")


def _init_worker() -> None:
    # open_image enforces --max-pixels itself (with a message naming the option); Pillow's own global
    # guard would otherwise refuse at its fixed limit first, whatever the user asked for.
    Image.MAX_IMAGE_PIXELS = None
    # Ctrl-C reaches the whole process group: the main process handles it once; workers finish their file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_pool(jobs: int) -> Iterator[Executor]:
    """A started process pool; on leaving (also by Ctrl-C or --strict), queued work is dropped, not run."""
    # fork: workers start at once and never re-run the caller's __main__ (spawn does, which breaks scripts
    # without a main guard). A fork pool starts every worker on its first submit, done here before any
    # progress-bar thread exists, so no worker inherits a lock held by another thread.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker)
    try:
        pool.submit(int).result()
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
