"""The image pipeline: decode threads, same-size batches through the model, encode threads.

    decode threads --bounded--> main thread: same-size batches -> Translator --bounded--> encode threads
    (colour + alpha, --max-side)                                                       (atomic write, metrics)

`translate_images` takes any list of (src, dst) jobs and yields a result per job as its output lands.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from cyclegan_batch.media.images import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    holds_alpha,
    load_rgb_alpha,
    shrink_rgba,
)
from cyclegan_batch.metrics import cycle_metrics
from cyclegan_batch.models.engine import BatchSize, Translator
from cyclegan_batch.util.atomic import atomic_output
from cyclegan_batch.util.bounded import bounded_map
from cyclegan_batch.util.threads import opencv_sequential

SAVE_OPTIONS = {".jpg": {"quality": 95}, ".jpeg": {"quality": 95}, ".jpe": {"quality": 95}, ".webp": {"quality": 95}}


@dataclass(frozen=True)
class ImageJob:
    src: Path
    dst: Path
    reconstruction: Path | None = None  # where F(G(x)) goes, when wanted


@dataclass
class ImageResult:
    job: ImageJob
    width: int = 0
    height: int = 0
    metrics: dict[str, float | None] | None = None
    error: str | None = None


@dataclass
class PipelineSettings:
    batch_size: BatchSize = "auto"  # per image size, see Translator.batch_size_for
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))  # decode threads, and encode threads
    max_side: int | None = None  # downscale larger images to this longer side before translating
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class PipelineStats:
    """Where the main thread's time went: the model, or waiting on the disk either side of it."""

    model_s: float = 0.0
    wait_decode_s: float = 0.0
    wait_encode_s: float = 0.0
    images: int = 0

    def summary(self, wall_s: float) -> str:
        return (
            f"{self.images / wall_s:.2f} images/s; the model was busy {self.model_s / wall_s:.0%} of the "
            f"{wall_s:.1f} s and waited {self.wait_decode_s:.1f} s for decoding, {self.wait_encode_s:.1f} s for writing"
        )


@dataclass
class _Decoded:
    job: ImageJob
    pixels: np.ndarray | None = None
    error: str | None = None
    alpha: np.ndarray | None = None  # carried unchanged to the output; the model sees the colour only


def _decode(job: ImageJob, settings: PipelineSettings) -> _Decoded:
    try:  # an output without alpha (JPEG...) gets the input composited over white, as a viewer shows it
        pixels, alpha = load_rgb_alpha(job.src, keep_alpha=holds_alpha(job.dst), max_pixels=settings.max_pixels)
    except ImageLoadError as e:
        return _Decoded(job, error=str(e))
    h, w = pixels.shape[:2]
    if settings.max_side and max(h, w) > settings.max_side:
        scale = settings.max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if alpha is None:
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        else:
            pixels, alpha = shrink_rgba(pixels, alpha, size)
    return _Decoded(job, pixels, alpha=alpha)


def save_image(pixels: np.ndarray, path: Path, alpha: np.ndarray | None = None) -> None:
    """Write an RGB uint8 image (RGBA with `alpha`) atomically, in the format its suffix names."""
    img = Image.fromarray(pixels) if alpha is None else Image.fromarray(np.dstack([pixels, alpha]), "RGBA")
    with atomic_output(path) as tmp:
        img.save(tmp, **SAVE_OPTIONS.get(path.suffix.lower(), {}))


def _encode(item: _Decoded, output: np.ndarray, reconstruction: np.ndarray | None) -> ImageResult:
    assert item.pixels is not None
    h, w = item.pixels.shape[:2]
    try:
        if item.job.reconstruction is not None and reconstruction is not None:
            save_image(reconstruction, item.job.reconstruction, item.alpha)
        save_image(output, item.job.dst, item.alpha)  # last: its presence means the image is complete
    except (OSError, ValueError) as e:
        return ImageResult(item.job, w, h, error=f"cannot write {item.job.dst.name}: {e}")
    metrics = cycle_metrics(item.pixels, reconstruction) if reconstruction is not None else None
    return ImageResult(item.job, w, h, metrics)


def translate_images(
    translator: Translator,
    jobs: Iterable[ImageJob],
    settings: PipelineSettings | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[ImageResult]:
    """Translate every job's image, yielding one result per job as its output lands (order not kept).

    Decoding and encoding (writing, metrics) run in worker threads behind bounded queues; the main
    thread batches same-size images for the model. Stopping the iteration early cancels queued work.
    """
    settings = settings or PipelineSettings()
    stats = stats if stats is not None else PipelineStats()
    # Decoded images held ahead of the model. For auto, 4 (the old default) bounds memory when big images
    # go one per call, and still holds a full bucket of 8 small ones.
    most = settings.batch_size if isinstance(settings.batch_size, int) else 4
    depth = 2 * most + settings.workers

    def batch_limit(shape: tuple[int, ...]) -> int:
        return translator.batch_size_for(shape[0], shape[1], settings.batch_size)

    decode_pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="decode")
    encode_pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="encode")
    encoding: deque[Future[ImageResult]] = deque()
    buckets: dict[tuple[int, ...], list[_Decoded]] = {}  # same-size images waiting for a full batch

    def translate_batch(batch: list[_Decoded]) -> None:
        start = time.perf_counter()
        result = translator.translate(np.stack([item.pixels for item in batch]))
        stats.model_s += time.perf_counter() - start
        stats.images += len(batch)
        for i, item in enumerate(batch):
            rec = None if result.reconstructions is None else result.reconstructions[i]
            encoding.append(encode_pool.submit(_encode, item, result.outputs[i], rec))

    def finished(limit: int) -> Iterator[ImageResult]:
        """Results that are done, waiting for the oldest while more than `limit` are queued."""
        while encoding and (encoding[0].done() or len(encoding) > limit):
            start = time.perf_counter()
            result = encoding.popleft().result()
            stats.wait_encode_s += time.perf_counter() - start
            yield result

    def add_wait(seconds: float) -> None:
        stats.wait_decode_s += seconds

    with opencv_sequential(translator.device.type == "cpu"):
        try:
            decoded = bounded_map(decode_pool, lambda job: _decode(job, settings), jobs, depth, waited=add_wait)
            for _, item in decoded:
                if item.pixels is None:
                    yield ImageResult(item.job, error=item.error)
                    continue
                bucket = buckets.setdefault(item.pixels.shape, [])
                bucket.append(item)
                if len(bucket) == batch_limit(item.pixels.shape):
                    translate_batch(buckets.pop(item.pixels.shape))
                elif sum(map(len, buckets.values())) >= 2 * most:  # mixed sizes: run the oldest
                    translate_batch(buckets.pop(next(iter(buckets))))
                yield from finished(depth)
            for shape in list(buckets):
                translate_batch(buckets.pop(shape))
            yield from finished(0)
        finally:
            decode_pool.shutdown(cancel_futures=True)
            encode_pool.shutdown(cancel_futures=True)
