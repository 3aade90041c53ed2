"""`translate IN OUT`: an image, a folder of images and videos, or one video, and how well each cycles back.

`translate_path` is the whole verb: it scans IN once (plan.py), which classifies each file once as an image or
a video, and hands the images to the image pipeline (image_pipeline.py) and each video to the frame pipeline
(video/pipeline.py); every input's outcome becomes a row of OUT/cycle.csv (cycle_table.py). Rows finished
before a kill are kept in a journal beside cycle.csv, so a killed run loses at most the files in flight.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from cyclegan_batch import runfolder
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.ffmpeg import VideoError
from cyclegan_batch.media.formats import OUTPUT_CONTAINERS
from cyclegan_batch.models.engine import TileSide, Translator, resolve_direction
from cyclegan_batch.models.modelfile import load_generators
from cyclegan_batch.translate.cycle_table import CycleTable, failed_row, ok_row
from cyclegan_batch.translate.image_pipeline import PipelineSettings, PipelineStats, translate_images
from cyclegan_batch.translate.plan import Plan, Scan, plan_images, scan_inputs
from cyclegan_batch.util.atomic import atomic_write_text, remove_stale_parts_under
from cyclegan_batch.util.progress import progress_bar
from cyclegan_batch.video.pipeline import VideoOptions, translate_video

log = logging.getLogger("cyclegan_batch")


def default_model() -> Path:
    """The model `translate` uses without --model: the default experiment's, else the bundled demo model."""
    if runfolder.EXPERIMENT_MODEL.is_file():
        return runfolder.EXPERIMENT_MODEL
    if (bundled := runfolder.bundled_model()) is not None:
        return bundled
    raise UserError(
        f"No model given and none at {runfolder.EXPERIMENT_MODEL} - train one with `snakemake --cores all train` "
        "(or `cyclegan-batch train`), or pass --model"
    )


# ---------------------------------------------------------------- the verb


@dataclass
class TranslateOptions:
    model: Path | None = None  # None: default_model(); else through runfolder.resolve_model
    direction: str = "AtoB"
    format: str | None = None  # png, jpg or webp; None keeps each input's format
    cycle: bool = True
    save_reconstruction: bool = False
    overwrite: bool = False
    strict: bool = False
    device: str = "auto"
    precision: str = "auto"
    tile: TileSide = "auto"
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    video: VideoOptions = field(default_factory=VideoOptions)


State = Literal["translated", "skipped", "failed"]  # what became of one input
Outcome = tuple[dict[str, str], State]  # its cycle.csv row, and that


def state_of(row: dict[str, str], skipped: bool) -> State:
    return "failed" if row["status"] == "failed" else "skipped" if skipped else "translated"


@dataclass
class RunSummary:
    strict: bool = False  # --strict: the first failed input stops the run (translate_path raises)
    translated: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    csv: Path | None = None
    stats: PipelineStats = field(default_factory=PipelineStats)
    stopped: bool = False  # by --strict, at failures[0]

    def count(self, row: dict[str, str], state: State) -> bool:
        """Count one input's outcome; False when the run stops here (--strict and it failed)."""
        if state == "failed":
            self.failures.append((row["input"], row["reason"]))
            log.warning("%s: %s", row["input"], row["reason"])
            self.stopped = self.strict
        elif state == "skipped":
            self.skipped += 1
        else:
            self.translated += 1
        return not self.stopped


def open_translator(options: TranslateOptions) -> tuple[Translator, Path]:
    """The model (given, or `default_model()`) as a Translator in the asked direction; logs which one."""
    model_path = runfolder.resolve_model(options.model) if options.model else default_model()
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
        "model %s (epoch %d): %s -> %s on %s in %s (%s)",
        model_path,
        model.info.epoch,
        source,
        target,
        translator.device,
        translator.precision,
        translator.precision_reason,
    )
    return translator, model_path


def video_row(
    translator: Translator,
    src: Path,
    rel: Path,
    out_dir: Path,
    out_rel: Path,
    options: TranslateOptions,
    progress: bool,
) -> tuple[dict[str, str], bool]:
    """Translate one video (cyclegan_batch/video/pipeline.py); its cycle.csv row and whether it was already done.

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
            context_from=options.video.context_from,
            flicker=options.video.flicker,
        )
    except VideoError as e:
        return failed_row(rel, str(e)), False
    reason = "; ".join(filter(None, [*result.warnings, translator.cycle_unavailable]))
    row = {"input": rel.as_posix(), "output": out_rel.as_posix(), "status": "ok", "reason": reason}
    return row | {"width": str(result.width), "height": str(result.height)}, result.status == "skipped"


def translate_path(src: Path, out: Path, options: TranslateOptions, progress: bool = False) -> RunSummary:
    """Translate IN into OUT; each input file is classified once, as an image or a video.

    - IN one video and OUT a video file name (.mp4, .gif, ...): that one video (the workflow's segment jobs).
    - Otherwise OUT is a folder: the image IN, or every image and video under the folder IN (recursive,
      hidden names skipped). Images go through the batched image pipeline first, then each video through
      the frame pipeline, one after another, as `<name>.mp4` (an animated GIF stays a GIF; --container
      changes both) with its per-frame metrics in `<output>.cycle.csv` and notes in `<output>.json`.
      OUT/cycle.csv gets one row per input (a video's row holds its status and size), OUT/run.json what
      produced them. A rerun skips an image whose output is newer than the input and the model, and a video
      whose output exists; --overwrite redoes them.
    A file that fails becomes a failed row and the run goes on; with --strict the first one stops the run
    (UserError, after cycle.csv is written).
    """
    src, out = Path(src), Path(out)
    scan = scan_inputs(src, out)
    if src.is_file() and scan.videos and out.suffix.lower().lstrip(".") in OUTPUT_CONTAINERS:
        summary = translate_one_video(src, out, options, progress)
    else:
        summary = translate_folder(scan, out, options, progress)
    if summary.stopped:
        name, reason = summary.failures[0]
        raise UserError(f"{name}: {reason} (--strict stops at the first file that fails)")
    return summary


def translate_one_video(src: Path, dst: Path, options: TranslateOptions, progress: bool) -> RunSummary:
    """`translate clip.mp4 out/clip.mp4`: one video to a named file."""
    options = replace(options, video=replace(options.video, container=dst.suffix.lower().lstrip(".")))
    translator, _ = open_translator(options)
    row, skipped = video_row(translator, src, Path(src.name), dst.parent, Path(dst.name), options, progress)
    summary = RunSummary(strict=options.strict)
    summary.count(row, state_of(row, skipped))
    if skipped:
        log.info("%s exists; skipped (--overwrite redoes it)", dst)
    return summary


def translate_folder(scan: Scan, out_dir: Path, options: TranslateOptions, progress: bool) -> RunSummary:
    """The images and videos `scan` found under IN into the folder `out_dir`, + cycle.csv and run.json (see
    translate_path)."""
    src = scan.source
    if out_dir.resolve() == src.resolve():
        raise UserError(f"OUT is IN ({src}); give a separate output folder", ExitCode.USAGE)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file; OUT must be a folder (cycle.csv goes inside)", ExitCode.USAGE)
    if not scan.images and not scan.videos:
        raise UserError(f"no images or videos in {src} (looked for .png, .jpg, .webp, .mp4, ... recursively)")
    translator, model_path = open_translator(options)
    if translator.cycle_unavailable:  # a one-direction model: no cycle to wait for on reruns either
        options = replace(options, cycle=False)
    log.info(
        "%d images, %d videos in %s%s",
        len(scan.images),
        len(scan.videos),
        src,
        f" (ignored {scan.ignored} other files)" if scan.ignored else "",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_run_json(out_dir, src, model_path, options)
    if removed := remove_stale_parts_under(out_dir):
        log.info("removed %d unfinished temporary files left by an interrupted run", removed)
    table = CycleTable(out_dir)
    plan = plan_images(
        scan,
        out_dir,
        table,
        model_path.stat().st_mtime_ns,
        format=options.format,
        cycle=options.cycle,
        save_reconstruction=options.save_reconstruction,
        overwrite=options.overwrite,
    )
    if plan.skipped:
        log.info("skipping %d images already translated (--overwrite redoes them)", plan.skipped)
    rows = plan.rows
    summary = RunSummary(strict=options.strict, skipped=plan.skipped, csv=table.path)
    start = time.perf_counter()

    def outcomes() -> Iterator[Outcome]:
        yield from image_outcomes(translator, plan, options, summary.stats, progress)
        yield from video_outcomes(translator, scan, table, out_dir, options, progress)

    try:
        with contextlib.closing(outcomes()) as stream:  # closing it early cancels the pipelines' queued work
            for row, state in stream:
                rows[row["input"]] = row
                table.record(row)
                if not summary.count(row, state):
                    break
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
    return summary


def write_run_json(out_dir: Path, src: Path, model_path: Path, options: TranslateOptions) -> None:
    """What produced OUT: the report finds the inputs by it. A rerun with the same inputs touches nothing."""
    run = {
        "input": str(src.resolve()),
        "model": str(model_path.resolve()),
        "direction": options.direction,
        "cycle": options.cycle,
        "save_reconstruction": options.save_reconstruction,
    }
    run_text = json.dumps(run, indent=2)
    run_json = out_dir / runfolder.RUN_JSON
    if not run_json.is_file() or run_json.read_text() != run_text:
        atomic_write_text(run_json, run_text)


def image_outcomes(
    translator: Translator, plan: Plan, options: TranslateOptions, stats: PipelineStats, progress: bool
) -> Iterator[Outcome]:
    """The images' rows: those the plan already failed (name collisions), then each translation as it lands."""
    for row in plan.rows.values():
        if row["status"] == "failed":
            yield row, "failed"
    with progress_bar("translating", len(plan.jobs), "images", progress) as advance:
        for result in translate_images(translator, list(plan.jobs), options.pipeline, stats):
            rel, out_rel = plan.jobs[result.job]
            note = translator.cycle_unavailable
            row = failed_row(rel, result.error) if result.error else ok_row(rel, out_rel, result, note)
            advance()
            yield row, state_of(row, skipped=False)


def video_outcomes(
    translator: Translator, scan: Scan, table: CycleTable, out_dir: Path, options: TranslateOptions, progress: bool
) -> Iterator[Outcome]:
    """Each video's row, one video after another; a skipped video keeps its previous row."""
    claimed: dict[Path, Path] = {}  # output rel -> the video that writes it
    for rel in scan.videos:
        out_rel = options.video.output_name(rel)
        if out_rel in claimed:
            yield failed_row(rel, f"output {out_rel} is already written for {claimed[out_rel]}"), "failed"
            continue
        claimed[out_rel] = rel
        row, skipped = video_row(translator, scan.root / rel, rel, out_dir, out_rel, options, progress)
        yield (table.previous.get(row["input"], row) if skipped else row), state_of(row, skipped)
