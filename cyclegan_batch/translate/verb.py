"""`translate IN OUT`: an image, a folder of images and videos, or one video, and how well each cycles back.

`translate_path` is the whole verb: scan IN and skip what a previous run finished (translate_plan), run the
image pipeline (image_pipeline) and each video (video), and write OUT/cycle.csv (cycle_table) and
OUT/run.json. Rows finished before a kill are kept in a journal beside cycle.csv, so a killed run loses at
most the images in flight.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from cyclegan_batch import runfolder
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.ffmpeg import VideoError, is_video_file
from cyclegan_batch.models.engine import Tile, Translator, resolve_direction
from cyclegan_batch.models.modelfile import load_generators
from cyclegan_batch.translate.cycle_table import CycleTable, failed_row, ok_row
from cyclegan_batch.translate.image_pipeline import PipelineSettings, PipelineStats, translate_images
from cyclegan_batch.translate.plan import plan_images, scan_inputs
from cyclegan_batch.util.atomic import atomic_write_text, remove_stale_parts
from cyclegan_batch.util.progress import progress_bar
from cyclegan_batch.video.pipeline import OUTPUT_CONTAINERS, VideoOptions, translate_video
from cyclegan_batch.video.segments import segment_context

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


EXPERIMENT_MODELS = {"last": runfolder.MODEL_FILE, "best": runfolder.BEST_MODEL_FILE}  # --model best|last


def chosen_model(model: Path | None) -> Path:
    """--model as given; `best` / `last` (when no such file exists here) name the default experiment's files."""
    if model is None:
        return default_model()
    if str(model) in EXPERIMENT_MODELS and not model.exists():
        path = runfolder.EXPERIMENT_MODEL.parent / EXPERIMENT_MODELS[str(model)]
        if not path.is_file():
            hint = " (training writes it when eval_every > 0 and the [metrics] extra is installed)"
            raise UserError(
                f"--model {model}: no {path}{hint if str(model) == 'best' else ''}; pass a model file instead"
            )
        return path
    return model


# ---------------------------------------------------------------- the verb


@dataclass
class TranslateOptions:
    model: Path | None = None  # None: default_model(); `best` / `last`: chosen_model()
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


def open_translator(options: TranslateOptions) -> tuple[Translator, Path]:
    """The model (given, or `default_model()`) as a Translator in the asked direction; logs which one."""
    model_path = chosen_model(options.model)
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
            context=segment_context(src, options.video.context_from, options.video.temporal is not None),
        )
    except VideoError as e:
        return failed_row(rel, str(e)), False
    reason = "; ".join(filter(None, [*result.warnings, translator.cycle_unavailable]))
    row = {"input": rel.as_posix(), "output": out_rel.as_posix(), "status": "ok", "reason": reason}
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
    if src.is_file() and is_video_file(src) and out_dir.suffix.lower().lstrip(".") in OUTPUT_CONTAINERS:
        return translate_one_video(src, out_dir, options, progress)
    if out_dir.resolve() == src.resolve():
        raise UserError(f"OUT is IN ({src}); give a separate output folder", ExitCode.USAGE)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file; OUT must be a folder (cycle.csv goes inside)", ExitCode.USAGE)
    scan = scan_inputs(src, out_dir)
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
    run = {
        "input": str(src.resolve()),
        "model": str(model_path.resolve()),
        "direction": options.direction,
        "cycle": options.cycle,
        "save_reconstruction": options.save_reconstruction,
    }
    run_text = json.dumps(run, indent=2)
    run_json = out_dir / runfolder.RUN_JSON  # what produced OUT: the report finds the inputs by it
    if not run_json.is_file() or run_json.read_text() != run_text:  # reruns touch nothing
        atomic_write_text(run_json, run_text)
    if removed := remove_stale_parts(out_dir):
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
                    note = translator.cycle_unavailable
                    row = failed_row(rel, result.error) if result.error else ok_row(rel, out_rel, result, note)
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
