"""Realism in the report: KID and FID of what was translated against the target domain's real images,
next to the same for the untranslated inputs (the do-nothing baseline), the share of that gap closed, and the
change of KID with its noise (outputs and inputs on the same KID subsets, realism/stats.py); and the chosen
model on the test split, which took no part in choosing it.

The reference is `report --reference DIR`, else the raw folder `prepare` read the target domain from (its
manifest says which), else the run's prepared `data/<target domain>/` (train and test). The raw images come
first: prepare resizes to the training size (36 px in the demo), and outputs translated at full size
scored against 36-px references measure the size gap more than the style (on the demo, KIDx100 5.7
translated against 7.2 untranslated; against the raw 128-px domain 0.2 against 0.9).
The target domain of an image set follows the direction in its run.json; a video's, the image sets'
(A->B when they disagree or there are none). A video is scored on `VIDEO_FRAMES` frames (`--video-frames`)
sampled evenly over its length, output frames against the reference, input frames as the baseline.

The test split (`data/A/test`, `data/B/test` from `prepare`) is translated both ways with the model the image
sets were translated with, whole at its own size (realism/translated.py), and scored against the other domain's
test images, next to the untranslated test images: training chose that model by the val split, so this is the
figure its choice did not flatter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.models.engine import Translator, resolve_direction
from cyclegan_batch.models.modelfile import load_generators
from cyclegan_batch.realism import Features, MetricsUnavailable, Scorer
from cyclegan_batch.realism.translated import translated
from cyclegan_batch.report.model import RealismSection, Report, TestSplitSection
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


def add_realism(report: Report, reference: Path | None, device: str = "auto", video_frames: int | None = None) -> None:
    """Score every image set and video of `report` in place (a video on video_frames of its frames, default
    VIDEO_FRAMES), and the test split; without the metrics extra, one note says why not."""
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
        picks = sorted({int(i) for i in np.linspace(0, count - 1, min(video_frames or VIDEO_FRAMES, count)).round()})
        video.realism.frames = len(picks)
        outputs = scorer.features(list(read_frames(video.path, picks).values()))
        inputs = (
            scorer.features(list(read_frames(video.input_video, picks).values()))
            if video.input_video is not None
            else None
        )
        score_section(video.realism, outputs, inputs, scorer.reference(folder), "--videos-root DIR")
    report.test_split = score_test_split(report, scorer, device)


def score_section(
    section: RealismSection, outputs: Features, inputs: Features | None, reference: Features, inputs_option: str
) -> None:
    """The outputs, and the inputs (the baseline) when located, against the reference."""
    if not len(reference.features):
        section.notes.append(f"no readable images in the reference {section.reference}")
        return
    if inputs is not None and len(inputs.features) == len(outputs.features) and not inputs.skipped:
        section.set_scores(Scorer.compare_sets(inputs, outputs, reference))  # row by row the same images
    else:
        section.translated = Scorer.score_sets(outputs, reference)
        if inputs is None:
            section.notes.append(f"inputs not located: no untranslated baseline (pass {inputs_option})")
        elif len(inputs.features):
            section.untranslated = Scorer.score_sets(inputs, reference)
            section.notes.append("some inputs are unreadable: the baseline is not the same images, so no change of KID")
    section.notes += section.translated.warnings  # type: ignore[union-attr]


def score_test_split(report: Report, scorer: Scorer, device: str) -> TestSplitSection | None:
    """The translation model on the test split both ways (module docstring); None without a model file."""
    model = report.model
    if not model.info:
        return None
    chosen_by = model.info.get("selected") or "as the last step of training: no split chose it"
    section = TestSplitSection(model.path, chosen_by)
    test = [report.run_dir / runfolder.DATA_DIR / domain / runfolder.TEST for domain in runfolder.DOMAINS]
    if not all(folder.is_dir() for folder in test):
        section.notes.append(f"no test split in {report.run_dir / runfolder.DATA_DIR} (`prepare --test-fraction`)")
        return section
    real = [scorer.features(folder, cache=True) for folder in test]
    names = model.info["domains"]
    try:
        generators = load_generators(model.path)
    except UserError as e:
        section.notes.append(str(e))
        return section
    for a_to_b, (source, target) in ((True, (0, 1)), (False, (1, 0))):
        name = f"{names[source]} → {names[target]}"
        realism = section.directions[name] = RealismSection(test[target])
        if len(real[source].features) < 2 or len(real[target].features) < 2:
            realism.notes.append(f"under 2 readable test images in {test[source]} or {test[target]}")
            continue
        try:
            engine = Translator(generators, a_to_b=a_to_b, device=device, cycle=False)
        except UserError as e:
            realism.notes.append(str(e))
            continue
        images = [load_rgb(path) for path in real[source].files]
        outputs = scorer.features(translated(engine, images))
        score_section(realism, outputs, real[source], real[target], "")
    if report.training.best_evaluation is None and "selected" not in model.info:
        section.notes.append("training did not evaluate (no metrics.csv): nothing was chosen by val")
    return section
