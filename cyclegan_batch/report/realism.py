"""Realism in the report: KID and FID of what was translated against the target domain's real images,
next to the same for the untranslated inputs (the do-nothing baseline), and the share of that gap closed.

The reference is `report --reference DIR`, else the raw folder `prepare` read the target domain from (its
manifest says which), else the run's prepared `data/<target domain>/` (train and test). The raw images come
first: prepare resizes to the training size (36 px under `grade`), and outputs translated at full size
scored against 36-px references measure the size gap more than the style (on the demo, KIDx100 5.7
translated against 7.2 untranslated; against the raw 128-px domain 0.2 against 0.9).
The target domain of an image set follows the direction in its run.json; a video's, the image sets'
(A->B when they disagree or there are none). A video is scored on `VIDEO_FRAMES` frames sampled evenly
over its length, output frames against the reference, input frames as the baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.engine import resolve_direction
from cyclegan_batch.realism import Features, MetricsUnavailable, Scorer
from cyclegan_batch.report.model import RealismSection, Report
from cyclegan_batch.report.plots import read_frames

VIDEO_FRAMES = 50


def target_is_b(direction: str | None, domains: tuple[str, str]) -> bool:
    try:
        return resolve_direction(direction or "AtoB", domains)
    except UserError:
        return True


def reference_for(report: Report, to_b: bool, given: Path | None) -> tuple[Path | None, str]:
    """The reference folder, or None and the note that says what to pass."""
    if given is not None:
        return given, ""
    side = "B" if to_b else "A"
    raw = report.data.roots.get(side)
    if raw is not None and raw.is_dir():
        return raw, ""
    folder = report.run_dir / runfolder.DATA_DIR / side
    if folder.is_dir():
        return folder, ""
    return None, f"no reference images for KID/FID: no {folder}; pass --reference DIR (real images of domain {side})"


def add_realism(report: Report, reference: Path | None, device: str = "auto") -> None:
    """Score every image set and video of `report` in place; without the metrics extra, one note says why not."""
    try:
        scorer = Scorer(device)
    except MetricsUnavailable as e:
        report.realism_note = str(e)
        return
    domains = tuple(report.model.info.get("domains") or ("A", "B"))
    set_targets = []
    for section in report.image_sets:
        if not section.rows:
            continue
        to_b = target_is_b(section.run.get("direction"), domains)  # type: ignore[arg-type]
        set_targets.append(to_b)
        folder, note = reference_for(report, to_b, reference)
        section.realism = RealismSection(folder, notes=[note] if note else [])
        if folder is None:
            continue
        ok = [r for r in section.rows if r.get("status") == "ok" and r.get("output")]
        outputs = scorer.features([section.folder / r["output"] for r in ok])
        inputs = (
            scorer.features([section.input_root / r["input"] for r in ok], cache=True)
            if section.input_root is not None
            else None
        )
        score_section(section.realism, outputs, inputs, scorer.reference(folder), "--images-root SET=DIR")

    video_to_b = set_targets[0] if set_targets and len(set(set_targets)) == 1 else True
    for video in report.videos:
        if not video.frames or not video.path.is_file():
            continue
        folder, note = reference_for(report, video_to_b, reference)
        video.realism = RealismSection(folder, notes=[note] if note else [])
        if folder is None:
            continue
        count = len(video.frames.get("frame", []))
        picks = sorted({int(i) for i in np.linspace(0, count - 1, min(VIDEO_FRAMES, count)).round()})
        video.realism.frames = len(picks)
        outputs = scorer.features(list(read_frames(video.path, picks).values()))
        inputs = (
            scorer.features(list(read_frames(video.input_video, picks).values()))
            if video.input_video is not None
            else None
        )
        score_section(video.realism, outputs, inputs, scorer.reference(folder), "--videos-root DIR")


def score_section(
    section: RealismSection, outputs: Features, inputs: Features | None, reference: Features, inputs_option: str
) -> None:
    """The outputs, and the inputs (the baseline) when located, against the reference."""
    if not len(reference.features):
        section.notes.append(f"no readable images in the reference {section.reference}")
        return
    section.translated = Scorer.score_sets(outputs, reference)
    section.notes += section.translated.warnings
    if inputs is None:
        section.notes.append(f"inputs not located: no untranslated baseline (pass {inputs_option})")
    elif len(inputs.features):
        section.untranslated = Scorer.score_sets(inputs, reference)
