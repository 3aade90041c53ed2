"""The cycle-error report's model: what a run folder holds, summarised, with its quality gates' results.

report/read.py's `read_run` turns RUN_DIR into a `Report`: numbers, per-section notes and the files behind
them; report/gates.py checks `--fail-above`/`--fail-below` against it; report/page.py's `write_report` renders
it as one HTML page that opens offline (images in `<page>_assets/` beside it, no JavaScript) plus
`summary.json` beside the page with the same numbers (`Report.to_json`).
Anything missing or broken in the run becomes a note in the section it belongs to, never a crash:
the page is where a person looks when something went wrong.

Where the inputs of an image set are (for the gallery), in order: `--images-root SET=DIR`, the
`input` key of `<set>/run.json`, a `source` column in cycle.csv. For a video: the `path` key of the
sidecar's `input`, else `--videos-root DIR` / <video name> (any video suffix).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from cyclegan_batch import __version__, runfolder
from cyclegan_batch.realism import PROTOCOL, Comparison, RealismScore

METRICS = ("l1", "psnr", "ssim")
# fidelity_psnr: stabilized vs per-frame translation (translate --temporal); its mean is over the frames the
# stabilizer changed (unchanged ones are inf)
VIDEO_METRICS = (*METRICS, "warp_in", "warp_out", "flicker", "fidelity_psnr")
LOWER_IS_BETTER = {
    "l1": True,
    "psnr": False,
    "ssim": False,
    "warp_in": True,
    "warp_out": True,
    "flicker": True,
    "fidelity_psnr": False,
}
PROPERTIES = ("fps", "frames", "width", "height", "duration_s", "audio")


# ------------------------------------------------------------------------------------------ values
def to_float(text: str | None) -> float | None:
    """A CSV cell as a number; empty or unparseable cells (metrics skipped, failed rows) are None."""
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return None if value is None or math.isnan(value) else value


def stats_of(values: list[float | None]) -> dict[str, float] | None:
    """count/mean/median/p95/min/max over the finite values (an exact reconstruction has PSNR inf)."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return None
    return {
        "count": int(finite.size),
        "mean": float(finite.mean()),
        "median": float(np.median(finite)),
        "p95": float(np.percentile(finite, 95)),
        "min": float(finite.min()),
        "max": float(finite.max()),
    }


def fps_value(fps: Any) -> float | None:
    """The sidecar's fps ("30000/1001", "25", 25.0) as a number."""
    try:
        return float(Fraction(str(fps)))
    except (ValueError, ZeroDivisionError):
        return None


# ----------------------------------------------------------------------------------------- sections
@dataclass
class RealismSection:
    """KID/FID of a set's outputs (or a video's sampled frames) and of its inputs against real target images, and
    the change of KID from the inputs to the outputs with its noise (the same KID subsets: realism/stats.py)."""

    reference: Path | None
    translated: RealismScore | None = None
    untranslated: RealismScore | None = None  # the do-nothing baseline
    kid_x100_diff: float | None = None  # translated - untranslated: below 0 where translating brought it closer
    kid_x100_diff_std: float | None = None
    frames: int | None = None  # videos: how many frames were sampled
    notes: list[str] = field(default_factory=list)

    def set_scores(self, change: Comparison) -> None:
        self.untranslated, self.translated = change.before, change.after
        self.kid_x100_diff, self.kid_x100_diff_std = change.kid_x100_diff, change.kid_x100_diff_std

    @property
    def diff_in_std(self) -> float | None:
        """How many std of its noise the change of KID is (negative: closer to the reference)."""
        if self.kid_x100_diff is None or not self.kid_x100_diff_std:
            return None
        return self.kid_x100_diff / self.kid_x100_diff_std

    def gap_closed(self, metric: str) -> float | None:
        """(baseline - translated) / baseline: 1 = as real as the reference, 0 = no better than doing nothing."""
        base = getattr(self.untranslated, metric, None)
        now = getattr(self.translated, metric, None)
        return None if base is None or now is None or base <= 0 else (base - now) / base

    def gate_values(self) -> dict[str, float | None]:
        if self.translated is None:
            return {}
        return {"kid": self.translated.kid_x100, "fid": self.translated.fid}

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": str(self.reference) if self.reference else None,
            "translated": self.translated.to_json() if self.translated else None,
            "untranslated": self.untranslated.to_json() if self.untranslated else None,
            "gap_closed": {"kid": self.gap_closed("kid_x100"), "fid": self.gap_closed("fid")},
            "kid_x100_diff": self.kid_x100_diff,
            "kid_x100_diff_std": self.kid_x100_diff_std,
            "kid_x100_diff_in_std": self.diff_in_std,
            "frames": self.frames,
            "notes": self.notes,
        }


@dataclass
class TestSplitSection:
    """The chosen model on the test split, which chose nothing: each direction's outputs against the other
    domain's test images, next to the untranslated test images."""

    model: Path
    chosen_by: str  # which split chose the model, and how
    directions: dict[str, RealismSection] = field(default_factory=dict)  # "A → B" -> its scores
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": str(self.model),
            "chosen_by": self.chosen_by,
            "directions": {k: v.to_json() for k, v in self.directions.items()},
            "notes": self.notes,
        }


@dataclass
class ModelSection:
    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class DataSection:
    counts: dict[str, Counter] = field(default_factory=dict)  # domain -> ok/skipped/failed/train/test
    reasons: Counter = field(default_factory=Counter)  # why files were skipped or failed
    roots: dict[str, Path] = field(default_factory=dict)  # domain -> the raw folder prepare read it from
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainingSection:
    run: dict[str, Any] = field(default_factory=dict)  # model/run.json as the trainer wrote it
    losses: dict[str, list[float | None]] = field(default_factory=dict)  # column -> values, in step order
    samples: list[Path] = field(default_factory=list)  # model/samples/step_*.png in step order
    notes: list[str] = field(default_factory=list)  # about run.json: shown with the run's facts
    curve_notes: list[str] = field(default_factory=list)  # about losses.csv: shown with the curves
    evaluations: dict[str, list[float | None]] = field(default_factory=dict)  # metrics.csv: column -> values
    evaluated_on: str = runfolder.TEST  # the split metrics.csv scored (test before training had a val split)

    @property
    def best_evaluation(self) -> dict[str, float | None] | None:
        """The metrics.csv row of the step best.safetensors holds: the last row's `best_step` (the lowest mean KID
        in a metrics.csv from before the noise rule, which has none)."""
        steps, kids = self.evaluations.get("step", []), self.evaluations.get("kid_x100_mean", [])
        scored = [i for i, v in enumerate(kids) if v is not None]
        if not scored:
            return None
        chosen = (self.evaluations.get("best_step") or [None])[-1]
        rows = [i for i in scored if steps[i] == chosen] or [min(scored, key=lambda i: kids[i])]  # type: ignore[arg-type, return-value]
        return {k: v[rows[0]] for k, v in self.evaluations.items()}

    @property
    def throughput(self) -> float | None:
        """Median of the logged images/s (one value per logging interval)."""
        stats = stats_of(self.losses.get("images_per_s", []))
        return stats["median"] if stats else None


@dataclass
class GalleryItem:
    label: str  # the input's relative path, or "frame N"
    metrics: dict[str, float | None]
    input: Path | None
    output: Path | None
    reconstruction: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImageSetSection:
    name: str
    folder: Path
    rows: list[dict[str, str]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)  # the set's run.json as translate wrote it (input, model, ...)
    input_root: Path | None = None
    input_root_from: str = ""  # how input_root was found: "--images-root", "run.json", "source column"
    worst: list[GalleryItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    realism: RealismSection | None = None

    @property
    def failures(self) -> list[dict[str, str]]:
        return [r for r in self.rows if r.get("status") != "ok"]

    def values(self, metric: str) -> list[float | None]:
        return [to_float(r.get(metric)) for r in self.rows if r.get("status") == "ok"]

    def stats(self) -> dict[str, dict[str, float] | None]:
        return {m: stats_of(self.values(m)) for m in METRICS}

    def gate_values(self) -> dict[str, float | None]:
        means = {m: (s["mean"] if s else None) for m, s in self.stats().items()}
        realism = self.realism.gate_values() if self.realism else {}
        return {**means, "failed": float(len(self.failures)), **realism}


@dataclass
class VideoSection:
    name: str
    path: Path
    frames: dict[str, list[float | None]] = field(default_factory=dict)  # column -> per-frame values
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)  # "input"/"output" -> sidecar
    input_video: Path | None = None
    worst_cycle: list[int] = field(default_factory=list)  # frame indices, largest cycle L1 first
    worst_flicker: list[int] = field(default_factory=list)  # largest warp_out - warp_in first
    notes: list[str] = field(default_factory=list)
    realism: RealismSection | None = None

    def stats(self) -> dict[str, dict[str, float] | None]:
        return {m: stats_of(self.frames.get(m, [])) for m in VIDEO_METRICS}

    def gate_values(self) -> dict[str, float | None]:
        means = {m: (s["mean"] if s else None) for m, s in self.stats().items() if m in (*METRICS, "flicker")}
        return {**means, **(self.realism.gate_values() if self.realism else {})}

    def mismatches(self) -> list[str]:
        """Properties where the output differs from the input (duration: by more than one frame)."""
        src, out = self.properties.get("input", {}), self.properties.get("output", {})
        if not src or not out:
            return []
        differ = []
        for key in PROPERTIES:
            a, b = src.get(key), out.get(key)
            if key == "fps":
                same = fps_value(a) is not None and fps_value(a) == fps_value(b)
            elif key == "duration_s":
                frame = 1 / (fps_value(src.get("fps")) or 1)
                a, b = to_float(str(a)), to_float(str(b))
                same = a is not None and b is not None and abs(a - b) <= frame + 1e-6
            else:
                same = a == b
            if not same:
                differ.append(key)
        return differ


@dataclass(frozen=True)
class Gate:
    metric: str
    above: bool  # fail when the value is above the threshold (else: below)
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.metric} {'>' if self.above else '<'} {self.threshold:g}"


@dataclass
class GateResult:
    gate: Gate
    item: str  # "images/<set>" or "videos/<name>"
    value: float | None
    passed: bool
    reason: str


@dataclass
class Report:
    run_dir: Path
    model: ModelSection
    data: DataSection
    training: TrainingSection
    image_sets: list[ImageSetSection]
    videos: list[VideoSection]
    gates: list[GateResult] = field(default_factory=list)
    realism_note: str | None = None  # why there are no KID/FID numbers, when there are none
    test_split: TestSplitSection | None = None  # the chosen model on the test split (with the realism numbers)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_json(self) -> dict[str, Any]:
        """summary.json: the page's numbers for CI gates and dashboards; paths relative to the run."""
        rel = self.relative
        return {
            "run_dir": str(self.run_dir),
            "created": self.created,
            "cyclegan_batch": __version__,
            "passed": self.passed,
            "gates": [
                {
                    "gate": g.gate.text,
                    "metric": g.gate.metric,
                    "fail_if": "above" if g.gate.above else "below",
                    "threshold": g.gate.threshold,
                    "item": g.item,
                    "value": g.value,
                    "passed": g.passed,
                    "reason": g.reason,
                }
                for g in self.gates
            ],
            "realism": {"protocol": PROTOCOL, "note": self.realism_note},
            "model": {"path": rel(self.model.path), **self.model.info, "notes": self.model.notes},
            "data": {
                "counts": {d: dict(c) for d, c in self.data.counts.items()},
                "reasons": dict(self.data.reasons),
                "notes": self.data.notes,
            },
            "training": {
                "device": self.training.run.get("device"),
                "device_name": self.training.run.get("device_name"),
                "precision": self.training.run.get("precision"),
                "steps": self.training.run.get("steps"),
                "epochs": self.training.run.get("epochs"),
                "images": self.training.run.get("images"),
                "seconds": self.training.run.get("last_session_seconds"),
                "images_per_s": self.training.throughput,
                "final_losses": {k: v[-1] for k, v in self.training.losses.items() if v},
                "best": self.training.best_evaluation,
                "evaluated_on": self.training.evaluated_on if self.training.evaluations else None,
                "test_split": self.test_split.to_json() if self.test_split else None,
                "samples": [rel(p) for p in self.training.samples],
                "notes": self.training.notes + self.training.curve_notes,
            },
            "image_sets": {
                s.name: {
                    "folder": rel(s.folder),
                    "count": len(s.rows),
                    "ok": len(s.rows) - len(s.failures),
                    "failed": len(s.failures),
                    "failures": [{"input": r.get("input", ""), "reason": r.get("reason", "")} for r in s.failures],
                    "metrics": s.stats(),
                    "input_root": str(s.input_root) if s.input_root else None,
                    "input_root_from": s.input_root_from or None,
                    "worst": [{"input": w.label, **w.metrics} for w in s.worst],
                    "realism": s.realism.to_json() if s.realism else None,
                    "notes": s.notes,
                }
                for s in self.image_sets
            },
            "videos": {
                v.name: {
                    "path": rel(v.path),
                    "frames": len(v.frames.get("frame", [])),
                    "metrics": v.stats(),
                    "properties": v.properties,
                    "mismatches": v.mismatches(),
                    "worst_cycle_frames": v.worst_cycle,
                    "worst_flicker_frames": v.worst_flicker,
                    "input_video": str(v.input_video) if v.input_video else None,
                    "realism": v.realism.to_json() if v.realism else None,
                    "notes": v.notes,
                }
                for v in self.videos
            },
        }

    def relative(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.run_dir).as_posix()
        except ValueError:
            return str(path)
