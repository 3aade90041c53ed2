"""The image pipeline: decode threads, same-size batches through the model, encode threads.

    decode threads --bounded--> main thread: same-size batches -> model calls --bounded--> encode threads
    (colour + alpha, --max-side)                   (1 or 2 at once)                 (atomic write, metrics)

`translate_images` takes any list of (src, dst) jobs and yields a result per job as its output lands.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from cyclegan_batch.media.device_jpeg import decode_on, jpeg_device
from cyclegan_batch.media.images import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    holds_alpha,
    load_rgb_alpha,
    shrink_rgba,
)
from cyclegan_batch.metrics import cycle_metrics
from cyclegan_batch.models.engine import BatchSize, TranslatedBatch, Translator
from cyclegan_batch.util.atomic import atomic_output
from cyclegan_batch.util.bounded import bounded_map
from cyclegan_batch.util.threads import ModelThreads, codec_workers, opencv_sequential

SAVE_OPTIONS = {".jpg": {"quality": 95}, ".jpeg": {"quality": 95}, ".jpe": {"quality": 95}, ".webp": {"quality": 95}}
# PNG goes through OpenCV with its defaults (zlib level 1, run-length strategy): 5-9x less CPU time than
# Pillow's level 6, files 1-24 % larger (bench/RESULTS.md, "Issue 30: the work around the model").
OPENCV_SUFFIXES = frozenset({".png"})


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
    workers: int = field(default_factory=codec_workers)  # decode threads, and encode threads
    max_side: int | None = None  # downscale larger images to this longer side before translating
    max_pixels: int = DEFAULT_MAX_PIXELS
    jpeg_device: torch.device | None = None  # decode JPEG there (media/device_jpeg.py); default: nvjpeg where it is


@dataclass
class PipelineStats:
    """Where the time went: the model (while any call ran), or the main thread waiting on the disk."""

    model_s: float = 0.0  # seconds in which at least one model call ran (calls may overlap)
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
    pixels: np.ndarray | torch.Tensor | None = None  # H x W x 3 uint8; a tensor when decoded on the device
    error: str | None = None
    alpha: np.ndarray | None = None  # carried unchanged to the output; the model sees the colour only


def _decode(job: ImageJob, settings: PipelineSettings) -> _Decoded:
    try:  # an output without alpha (JPEG...) gets the input composited over white, as a viewer shows it
        if settings.jpeg_device is not None:
            on_device = decode_on(job.src, settings.jpeg_device, settings.max_pixels, settings.max_side)
            if on_device is not None:
                return _Decoded(job, on_device)
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
    suffix = path.suffix.lower()
    if suffix in OPENCV_SUFFIXES:
        order = cv2.COLOR_RGB2BGR if alpha is None else cv2.COLOR_RGBA2BGRA
        ok, data = cv2.imencode(suffix, cv2.cvtColor(pixels if alpha is None else np.dstack([pixels, alpha]), order))
        if not ok:
            raise ValueError(f"OpenCV cannot encode {path.name}")
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
        return
    img = Image.fromarray(pixels) if alpha is None else Image.fromarray(np.dstack([pixels, alpha]), "RGBA")
    with atomic_output(path) as tmp:
        img.save(tmp, **SAVE_OPTIONS.get(suffix, {}))


def _stack(images: list[np.ndarray | torch.Tensor], device: torch.device) -> np.ndarray | torch.Tensor:
    """A batch of same-size images; on the device when any of them was decoded there."""
    if all(isinstance(image, np.ndarray) for image in images):
        return np.stack(images)
    return torch.stack(
        [torch.tensor(image, device=device) if isinstance(image, np.ndarray) else image for image in images]
    )


def _encode(item: _Decoded, output: np.ndarray, reconstruction: np.ndarray | None) -> ImageResult:
    assert item.pixels is not None
    h, w = item.pixels.shape[:2]
    try:
        if item.job.reconstruction is not None and reconstruction is not None:
            save_image(reconstruction, item.job.reconstruction, item.alpha)
        save_image(output, item.job.dst, item.alpha)  # last: its presence means the image is complete
    except (OSError, ValueError) as e:
        return ImageResult(item.job, w, h, error=f"cannot write {item.job.dst.name}: {e}")
    pixels = item.pixels.cpu().numpy() if isinstance(item.pixels, torch.Tensor) else item.pixels
    metrics = cycle_metrics(pixels, reconstruction) if reconstruction is not None else None
    return ImageResult(item.job, w, h, metrics)


class _ModelCalls:
    """Same-size batches through the translator in util/threads.py's ModelThreads, as many at once as
    `Translator.concurrent_calls` allows for their size. Finished calls come back in submission order."""

    def __init__(self, translator: Translator, stats: PipelineStats) -> None:
        self.translator, self.stats = translator, stats
        self.pool = ModelThreads(calls=1)
        self.running: deque[tuple[list[_Decoded], Future[TranslatedBatch]]] = deque()
        self._lock = threading.Lock()  # guards the busy-time count below, which the workers update
        self._active = 0
        self._busy_since = 0.0

    def _call(self, batch: list[_Decoded]) -> TranslatedBatch:
        self._count_busy(+1)
        try:
            return self.translator.translate(_stack([item.pixels for item in batch], self.translator.device))
        finally:
            self._count_busy(-1)

    def _count_busy(self, change: int) -> None:
        """stats.model_s grows by the time between the first call starting and the last one ending."""
        with self._lock:
            if self._active == 0:
                self._busy_since = time.perf_counter()
            self._active += change
            if self._active == 0:
                self.stats.model_s += time.perf_counter() - self._busy_since

    def submit(self, batch: list[_Decoded]) -> Iterator[tuple[list[_Decoded], TranslatedBatch]]:
        """Start `batch`'s call, first yielding the calls it has to wait for: a full house, or a change in how
        many may run at once (mixed sizes: a big image runs alone, with all the threads)."""
        assert batch[0].pixels is not None
        h, w = batch[0].pixels.shape[:2]
        calls = self.translator.concurrent_calls(h, w, len(batch))
        while self.running and (len(self.running) >= calls or calls != self.pool.calls):
            yield self._pop()
        self.pool.calls = calls
        self.running.append((batch, self.pool.submit(self._call, batch)))

    def finished(self, wait: bool = False) -> Iterator[tuple[list[_Decoded], TranslatedBatch]]:
        """Calls that are done, in order (with `wait`, every call, waiting for each)."""
        while self.running and (wait or self.running[0][1].done()):
            yield self._pop()

    def _pop(self) -> tuple[list[_Decoded], TranslatedBatch]:
        batch, future = self.running.popleft()
        return batch, future.result()

    def close(self) -> None:
        for _, future in self.running:
            future.cancel()
        self.pool.shutdown(wait=True)  # a call already running finishes first (one batch: seconds at most)


def translate_images(
    translator: Translator,
    jobs: Iterable[ImageJob],
    settings: PipelineSettings | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[ImageResult]:
    """Translate every job's image, yielding one result per job as its output lands (order not kept).

    Decoding and encoding (writing, metrics) run in worker threads behind bounded queues, model calls in
    their own (_ModelCalls); the main thread batches same-size images. Stopping the iteration early
    cancels queued work.
    """
    settings = settings or PipelineSettings()
    if settings.jpeg_device is None:
        settings = replace(settings, jpeg_device=jpeg_device(translator.device))
    stats = stats if stats is not None else PipelineStats()
    # Decoded images held ahead of the model. For auto, 4 (the old default) bounds memory when big images
    # go one per call, and still holds a full bucket of 8 small ones.
    most = settings.batch_size if isinstance(settings.batch_size, int) else 4
    depth = 2 * most + settings.workers

    def batch_limit(shape: tuple[int, ...]) -> int:
        return translator.batch_size_for(shape[0], shape[1], settings.batch_size)

    decode_pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="decode")
    encode_pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="encode")
    model = _ModelCalls(translator, stats)
    encoding: deque[Future[ImageResult]] = deque()
    buckets: dict[tuple[int, ...], list[_Decoded]] = {}  # same-size images waiting for a full batch

    def encode(calls: Iterable[tuple[list[_Decoded], TranslatedBatch]]) -> None:
        for batch, result in calls:
            stats.images += len(batch)
            for i, item in enumerate(batch):
                rec = None if result.reconstructions is None else result.reconstructions[i]
                encoding.append(encode_pool.submit(_encode, item, result.outputs[i], rec))

    def finished(limit: int) -> Iterator[ImageResult]:
        """Results that are done, waiting for the oldest while more than `limit` are queued."""
        encode(model.finished())
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
                    encode(model.submit(buckets.pop(item.pixels.shape)))
                elif sum(map(len, buckets.values())) >= 2 * most:  # mixed sizes: run the oldest
                    encode(model.submit(buckets.pop(next(iter(buckets)))))
                yield from finished(depth)
            for shape in list(buckets):
                encode(model.submit(buckets.pop(shape)))
            encode(model.finished(wait=True))
            yield from finished(0)
        finally:
            try:
                model.close()
            finally:
                decode_pool.shutdown(cancel_futures=True)
                encode_pool.shutdown(cancel_futures=True)
