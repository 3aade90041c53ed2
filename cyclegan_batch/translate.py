"""Translate an image, or every image under a folder, and measure how well each one cycles back.

    decode threads --bounded--> main thread: same-size batches -> Translator --bounded--> encode threads
    (load_rgb, --max-side)                                                             (atomic write, metrics)

`translate_path` is the whole verb: scan IN, skip what is already done, run the pipeline, write
OUT/cycle.csv (columns in docs/interfaces.md). `translate_images` is the pipeline alone, for any list of
(src, dst) jobs. A rerun skips outputs newer than both their input and the model; rows finished before a
kill are kept in a journal beside cycle.csv, so a killed run loses at most the images in flight.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image

from cyclegan_batch.atomic import atomic_output, atomic_write_text, remove_stale_parts
from cyclegan_batch.engine import BatchSize, Tile, Translator, resolve_direction
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.images import DEFAULT_MAX_PIXELS, ImageLoadError, is_image_path, load_rgb
from cyclegan_batch.media.video import CONTAINER_FORMATS, VideoError, is_video_file
from cyclegan_batch.metrics import cycle_metrics
from cyclegan_batch.modelfile import load_generators
from cyclegan_batch.progress import progress_bar
from cyclegan_batch.segments import segment_context
from cyclegan_batch.threads import opencv_sequential
from cyclegan_batch.video import VideoOptions, translate_video

log = logging.getLogger("cyclegan_batch")

EXPERIMENT_MODEL = Path("results/demo/model/generators.safetensors")  # the workflow's default experiment
BUNDLED_MODEL = ("assets", "demo.safetensors")  # inside the cyclegan_batch package
FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}
SAVE_OPTIONS = {".jpg": {"quality": 95}, ".jpeg": {"quality": 95}, ".jpe": {"quality": 95}, ".webp": {"quality": 95}}
CSV_COLUMNS = ("input", "output", "status", "reason", "width", "height", "l1", "psnr", "ssim")
CSV_NAME = "cycle.csv"
RUN_NAME = "run.json"  # what produced OUT: the input root (the report finds inputs by it), model, options
JOURNAL_NAME = ".cycle.journal.jsonl"  # rows finished so far; folded into cycle.csv at the end
RECONSTRUCTED = "reconstructed"

T = TypeVar("T")
R = TypeVar("R")


def default_model() -> Path:
    """The model `translate` uses without --model: the default experiment's, else the bundled demo model."""
    if EXPERIMENT_MODEL.is_file():
        return EXPERIMENT_MODEL
    bundled = resources.files("cyclegan_batch").joinpath(*BUNDLED_MODEL)
    if bundled.is_file():
        return Path(str(bundled))  # the package is installed from a folder, so this is a real file
    raise UserError(
        f"No model given and none at {EXPERIMENT_MODEL} - train one with `snakemake --cores all train` "
        "(or `cyclegan-batch train`), or pass --model"
    )


# ---------------------------------------------------------------- scanning


@dataclass
class Scan:
    root: Path  # images and videos are relative to it
    images: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    ignored: int = 0  # files that are neither (text, sidecars...)


def scan_inputs(src: Path, out_dir: Path) -> Scan:
    """Images and videos under `src` (recursive, hidden names skipped), leaving out `out_dir` if it is inside."""
    if not src.exists():
        raise UserError(f"{src} does not exist; pass an image or a folder of images")
    if src.is_file():
        scan = Scan(src.parent)
        (scan.videos if is_video_file(src) else scan.images).append(Path(src.name))
        return scan
    scan, excluded = Scan(src), out_dir.resolve()
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(folder, d).resolve() != excluded)
        for name in sorted(files):
            rel = Path(folder, name).relative_to(src)
            if name.startswith("."):
                continue
            if is_video_file(src / rel):  # before images: an animated GIF is a video
                scan.videos.append(rel)
            elif is_image_path(rel):
                scan.images.append(rel)
            else:
                scan.ignored += 1
    return scan


# ---------------------------------------------------------------- the pipeline


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


def _decode(job: ImageJob, settings: PipelineSettings) -> _Decoded:
    try:
        pixels = load_rgb(job.src, max_pixels=settings.max_pixels)
    except ImageLoadError as e:
        return _Decoded(job, error=str(e))
    h, w = pixels.shape[:2]
    if settings.max_side and max(h, w) > settings.max_side:
        scale = settings.max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return _Decoded(job, pixels)


def save_image(pixels: np.ndarray, path: Path) -> None:
    """Write an RGB uint8 image atomically, in the format its suffix names."""
    with atomic_output(path) as tmp:
        Image.fromarray(pixels).save(tmp, **SAVE_OPTIONS.get(path.suffix.lower(), {}))


def _encode(item: _Decoded, output: np.ndarray, reconstruction: np.ndarray | None) -> ImageResult:
    assert item.pixels is not None
    h, w = item.pixels.shape[:2]
    try:
        if item.job.reconstruction is not None and reconstruction is not None:
            save_image(reconstruction, item.job.reconstruction)
        save_image(output, item.job.dst)  # last: its presence means the image is complete
    except (OSError, ValueError) as e:
        return ImageResult(item.job, w, h, error=f"cannot write {item.job.dst.name}: {e}")
    metrics = cycle_metrics(item.pixels, reconstruction) if reconstruction is not None else None
    return ImageResult(item.job, w, h, metrics)


def _prefetch(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], depth: int, waited: Callable[[float], None]
) -> Iterator[R]:
    """`map(fn, items)` in `pool`, at most `depth` ahead of the consumer, in order."""
    items = iter(items)
    pending: deque[Future[R]] = deque(pool.submit(fn, item) for item in islice(items, depth))
    while pending:
        head = pending.popleft()
        pending.extend(pool.submit(fn, item) for item in islice(items, 1))
        start = time.perf_counter()
        result = head.result()
        waited(time.perf_counter() - start)
        yield result


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
            for item in _prefetch(decode_pool, lambda job: _decode(job, settings), jobs, depth, add_wait):
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


# ---------------------------------------------------------------- cycle.csv and its journal


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


class CycleTable:
    """OUT/cycle.csv: rows by input path. Finished rows are appended to a journal as they come, so a
    killed run keeps them; `write` folds everything into cycle.csv (atomically) and drops the journal."""

    def __init__(self, out_dir: Path) -> None:
        self.path, self.journal = out_dir / CSV_NAME, out_dir / JOURNAL_NAME
        self.previous: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as f:
                self.previous = {row["input"]: row for row in csv.DictReader(f) if "input" in row}
        if self.journal.is_file():
            for line in self.journal.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # the line a kill cut short
                    continue
                if isinstance(row, dict) and "input" in row:
                    self.previous[row["input"]] = row

    def record(self, row: dict[str, str]) -> None:
        with self.journal.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def write(self, rows: Iterable[dict[str, str]]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: row["input"]))
        atomic_write_text(self.path, text.getvalue())
        self.journal.unlink(missing_ok=True)


def ok_row(rel: Path, out_rel: Path, result: ImageResult) -> dict[str, str]:
    metrics = result.metrics or {}
    return {
        "input": rel.as_posix(),
        "output": out_rel.as_posix(),
        "status": "ok",
        "reason": "",
        "width": str(result.width),
        "height": str(result.height),
        **{name: _fmt(metrics.get(name)) for name in ("l1", "psnr", "ssim")},
    }


def failed_row(rel: Path, reason: str) -> dict[str, str]:
    return {"input": rel.as_posix(), "status": "failed", "reason": reason}


# ---------------------------------------------------------------- the verb


@dataclass
class TranslateOptions:
    model: Path | None = None  # None: default_model()
    direction: str = "AtoB"
    format: str | None = None  # png, jpg or webp; None keeps each input's format
    cycle: bool = True
    save_reconstruction: bool = False
    overwrite: bool = False
    strict: bool = False
    device: str = "auto"
    precision: str = "auto"
    tile: Tile = "auto"
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    video: VideoOptions = field(default_factory=VideoOptions)


@dataclass
class RunSummary:
    translated: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    csv: Path | None = None
    stats: PipelineStats = field(default_factory=PipelineStats)


def _is_fresh(path: Path | None, newer_than_ns: int) -> bool:
    try:
        return path is None or path.stat().st_mtime_ns > newer_than_ns
    except OSError:
        return False


def _is_done(job: ImageJob, previous: dict[str, str], out_rel: Path, cycle: bool, newer_than_ns: int) -> bool:
    """Output (and reconstruction) newer than input and model, with its cycle.csv row from a finished run."""
    if previous.get("status") != "ok" or previous.get("output") != out_rel.as_posix():
        return False
    if cycle and not previous.get("l1"):
        return False
    newer_than_ns = max(newer_than_ns, job.src.stat().st_mtime_ns)
    return _is_fresh(job.dst, newer_than_ns) and _is_fresh(job.reconstruction, newer_than_ns)


def open_translator(options: TranslateOptions) -> tuple[Translator, Path]:
    """The model (given, or `default_model()`) as a Translator in the asked direction; logs which one."""
    model_path = options.model or default_model()
    model = load_generators(model_path)
    a_to_b = resolve_direction(options.direction, model.info.domains)
    translator = Translator(
        model,
        a_to_b=a_to_b,
        device=options.device,
        precision=options.precision,
        cycle=options.cycle,
        tile=options.tile,
    )
    source, target = model.info.domains if a_to_b else model.info.domains[::-1]
    log.info(
        "model %s (epoch %d): %s -> %s on %s in %s",
        model_path,
        model.info.epoch,
        source,
        target,
        translator.device,
        translator.precision,
    )
    return translator, model_path


@dataclass
class Plan:
    jobs: dict[ImageJob, tuple[Path, Path]] = field(default_factory=dict)  # job -> (input rel, output rel)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # cycle.csv rows known without translating
    skipped: int = 0


def plan_images(scan: Scan, out_dir: Path, options: TranslateOptions, table: CycleTable, model_ns: int) -> Plan:
    """A job per image still to do; finished images keep their previous row; name collisions fail."""
    plan = Plan()
    claimed: dict[Path, Path] = {}  # output rel -> the input that writes it
    for rel in scan.images:
        out_rel = rel.with_suffix(FORMATS[options.format]) if options.format else rel
        if out_rel in claimed:
            plan.rows[rel.as_posix()] = failed_row(rel, f"output {out_rel} is already written for {claimed[out_rel]}")
            continue
        claimed[out_rel] = rel
        job = ImageJob(
            scan.root / rel,
            out_dir / out_rel,
            out_dir / RECONSTRUCTED / out_rel if options.save_reconstruction and options.cycle else None,
        )
        previous = table.previous.get(rel.as_posix())
        if previous is not None and not options.overwrite and _is_done(job, previous, out_rel, options.cycle, model_ns):
            plan.rows[rel.as_posix()] = previous
            plan.skipped += 1
        else:
            plan.jobs[job] = (rel, out_rel)
    return plan


def video_row(
    translator: Translator,
    src: Path,
    rel: Path,
    out_dir: Path,
    out_rel: Path,
    options: TranslateOptions,
    progress: bool,
) -> tuple[dict[str, str], bool]:
    """Translate one video (cyclegan_batch/video.py); its cycle.csv row and whether it was already done.

    The row holds status and size; the video's metrics are per frame, in `<output>.cycle.csv`."""
    frames_dir = options.video.frames_dir / out_rel.with_suffix("") if options.video.frames_dir else None
    try:
        result = translate_video(
            translator,
            src,
            out_dir / out_rel,
            settings=options.video.settings(),
            batch_size=options.pipeline.batch_size,
            frames_dir=frames_dir,
            overwrite=options.overwrite,
            progress=progress,
            temporal=options.video.temporal,
            context=segment_context(src, options.video.context_from, options.video.temporal is not None),
        )
    except VideoError as e:
        return failed_row(rel, str(e)), False
    row = {"input": rel.as_posix(), "output": out_rel.as_posix(), "status": "ok", "reason": "; ".join(result.warnings)}
    return row | {"width": str(result.width), "height": str(result.height)}, result.status == "skipped"


def translate_one_video(src: Path, dst: Path, options: TranslateOptions, progress: bool) -> RunSummary:
    """`translate clip.mp4 out/clip.mp4`: one video to a named file (the workflow's per-segment jobs)."""
    options = replace(options, video=replace(options.video, container=dst.suffix.lower().lstrip(".")))
    translator, _ = open_translator(options)
    row, skipped = video_row(translator, src, Path(src.name), dst.parent, Path(dst.name), options, progress)
    summary = RunSummary(translated=int(row["status"] == "ok" and not skipped), skipped=int(skipped))
    if row["status"] == "failed":
        summary.failures.append((row["input"], row["reason"]))
        log.warning("%s: %s", row["input"], row["reason"])
    elif skipped:
        log.info("%s exists; skipped (--overwrite redoes it)", dst)
    if options.strict and summary.failures:
        raise UserError(f"{src.name}: {row['reason']} (--strict stops at the first file that fails)")
    return summary


def translate_path(src: Path, out_dir: Path, options: TranslateOptions, progress: bool = False) -> RunSummary:
    """Translate the image `src`, or every image under the folder `src`, into `out_dir` + cycle.csv."""
    src, out_dir = Path(src), Path(out_dir)
    if src.is_file() and is_video_file(src) and out_dir.suffix.lower().lstrip(".") in CONTAINER_FORMATS:
        return translate_one_video(src, out_dir, options, progress)
    if out_dir.resolve() == src.resolve():
        raise UserError(f"OUT is IN ({src}); give a separate output folder", ExitCode.USAGE)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file; OUT must be a folder (cycle.csv goes inside)", ExitCode.USAGE)
    scan = scan_inputs(src, out_dir)
    if not scan.images and not scan.videos:
        raise UserError(f"no images or videos in {src} (looked for .png, .jpg, .webp, .mp4, ... recursively)")
    translator, model_path = open_translator(options)
    log.info(
        "%d images, %d videos in %s%s",
        len(scan.images),
        len(scan.videos),
        src,
        f" (ignored {scan.ignored} other files)" if scan.ignored else "",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "input": str(src.resolve()),
        "model": str(model_path.resolve()),
        "direction": options.direction,
        "cycle": options.cycle,
        "save_reconstruction": options.save_reconstruction,
    }
    run_text = json.dumps(run, indent=2)
    if not (out_dir / RUN_NAME).is_file() or (out_dir / RUN_NAME).read_text() != run_text:  # reruns touch nothing
        atomic_write_text(out_dir / RUN_NAME, run_text)
    if removed := remove_stale_parts(out_dir):
        log.info("removed %d unfinished temporary files left by an interrupted run", removed)
    table = CycleTable(out_dir)
    plan = plan_images(scan, out_dir, options, table, model_path.stat().st_mtime_ns)
    if plan.skipped:
        log.info("skipping %d images already translated (--overwrite redoes them)", plan.skipped)
    rows = plan.rows

    summary = RunSummary(skipped=plan.skipped, csv=table.path)

    def note_failure(row: dict[str, str]) -> None:
        summary.failures.append((row["input"], row["reason"]))
        log.warning("%s: %s", row["input"], row["reason"])

    for row in rows.values():
        if row["status"] == "failed":
            note_failure(row)
    start = time.perf_counter()
    try:
        if not (options.strict and summary.failures):
            with progress_bar("translating", len(plan.jobs), "images", progress) as advance:
                for result in translate_images(translator, list(plan.jobs), options.pipeline, summary.stats):
                    rel, out_rel = plan.jobs[result.job]
                    row = failed_row(rel, result.error) if result.error else ok_row(rel, out_rel, result)
                    rows[row["input"]] = row
                    table.record(row)
                    advance()
                    if result.error:
                        note_failure(row)
                        if options.strict:
                            break
                    else:
                        summary.translated += 1
            claimed: dict[Path, Path] = {}  # output rel -> the video that writes it
            for rel in scan.videos:
                if options.strict and summary.failures:
                    break
                out_rel = options.video.output_name(rel)
                if out_rel in claimed:
                    row, skipped = failed_row(rel, f"output {out_rel} is already written for {claimed[out_rel]}"), False
                else:
                    claimed[out_rel] = rel
                    row, skipped = video_row(translator, scan.root / rel, rel, out_dir, out_rel, options, progress)
                rows[row["input"]] = table.previous.get(row["input"], row) if skipped else row
                table.record(rows[row["input"]])
                if row["status"] == "failed":
                    note_failure(row)
                elif skipped:
                    summary.skipped += 1
                else:
                    summary.translated += 1
    finally:
        table.write(rows.values())
    if summary.stats.images:
        log.info(summary.stats.summary(time.perf_counter() - start))
    log.info(
        "translated %d, skipped %d, failed %d -> %s",
        summary.translated,
        summary.skipped,
        len(summary.failures),
        table.path,
    )
    if options.strict and summary.failures:
        name, reason = summary.failures[0]
        raise UserError(f"{name}: {reason} (--strict stops at the first file that fails)")
    return summary
