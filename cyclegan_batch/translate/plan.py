"""What a translate run has to do: the inputs under IN, and which of them a previous run already finished.

A finished image keeps its cycle.csv row when its output (and reconstruction) is newer than both the input
and the model; everything else becomes a job. Two inputs that would write one output: the second fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.formats import IMAGE_OUTPUT_FORMATS, is_image_name, visible_files
from cyclegan_batch.media.gif import is_video_file
from cyclegan_batch.translate.cycle_table import CycleTable, failed_row
from cyclegan_batch.translate.image_pipeline import ImageJob


@dataclass
class Scan:
    source: Path  # IN, as given: an image, a video or a folder
    root: Path  # images and videos are relative to it: IN, or the folder of the one file IN
    images: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    ignored: int = 0  # files that are neither (text, sidecars...)


def scan_inputs(src: Path, out_dir: Path) -> Scan:
    """Images and videos under `src` (recursive, hidden names skipped), leaving out `out_dir` if it is inside."""
    if not src.exists():
        raise UserError(f"{src} does not exist; pass an image or a folder of images")
    if src.is_file():
        scan = Scan(src, src.parent)
        (scan.videos if is_video_file(src) else scan.images).append(Path(src.name))
        return scan
    scan = Scan(src, src)
    for path in visible_files(src, exclude=out_dir):
        rel = path.relative_to(src)
        if is_video_file(path):  # before images: an animated GIF is a video
            scan.videos.append(rel)
        elif is_image_name(rel):
            scan.images.append(rel)
        else:
            scan.ignored += 1
    return scan


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


@dataclass
class Plan:
    jobs: dict[ImageJob, tuple[Path, Path]] = field(default_factory=dict)  # job -> (input rel, output rel)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # cycle.csv rows known without translating
    skipped: int = 0


def plan_images(
    scan: Scan,
    out_dir: Path,
    table: CycleTable,
    model_ns: int,
    *,
    format: str | None,
    cycle: bool,
    save_reconstruction: bool,
    overwrite: bool,
) -> Plan:
    """A job per image still to do; finished images keep their previous row; name collisions fail."""
    plan = Plan()
    claimed: dict[Path, Path] = {}  # output rel -> the input that writes it
    for rel in scan.images:
        out_rel = rel.with_suffix(IMAGE_OUTPUT_FORMATS[format]) if format else rel
        if out_rel in claimed:
            plan.rows[rel.as_posix()] = failed_row(rel, f"output {out_rel} is already written for {claimed[out_rel]}")
            continue
        claimed[out_rel] = rel
        job = ImageJob(
            scan.root / rel,
            out_dir / out_rel,
            out_dir / runfolder.RECONSTRUCTED_DIR / out_rel if save_reconstruction and cycle else None,
        )
        previous = table.previous.get(rel.as_posix())
        if previous is not None and not overwrite and _is_done(job, previous, out_rel, cycle, model_ns):
            plan.rows[rel.as_posix()] = previous
            plan.skipped += 1
        else:
            plan.jobs[job] = (rel, out_rel)
    return plan
