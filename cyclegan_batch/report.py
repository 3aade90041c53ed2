"""The cycle-error report: read a run folder (docs/interfaces.md), summarise it and check quality gates.

`read_run` turns RUN_DIR into a `Report`: numbers, per-section notes and the files behind them.
`write_report` renders it as one HTML page that opens offline (images in `<page>_assets/` beside it,
no JavaScript) plus `summary.json` beside the page with the same numbers (`Report.to_json`).
Anything missing or broken in the run becomes a note in the section it belongs to, never a crash:
the page is where a person looks when something went wrong.

Where the inputs of an image set are (for the gallery), in order: `--images-root SET=DIR`, the
`input` key of `<set>/run.json`, a `source` column in cycle.csv. For a video: the `path` key of the
sidecar's `input`, else `--videos-root DIR` / <video name> (any video suffix).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from cyclegan_batch import __version__
from cyclegan_batch.atomic import atomic_write_text
from cyclegan_batch.errors import ExitCode, UserError

METRICS = ("l1", "psnr", "ssim")
# fidelity_psnr: stabilized vs per-frame translation (translate --temporal); its mean is over the frames the
# stabilizer changed (unchanged ones are inf)
VIDEO_METRICS = (*METRICS, "warp_in", "warp_out", "flicker", "fidelity_psnr")
LOWER_IS_BETTER = {"l1": True, "psnr": False, "ssim": False, "warp_in": True, "warp_out": True, "flicker": True}
LOWER_IS_BETTER["fidelity_psnr"] = False
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif", ".m4v"})
PROPERTIES = ("fps", "frames", "width", "height", "duration_s", "audio")
# Gate metrics and the direction that fails: `failed` counts failed rows of an image set; `flicker`
# is a video's mean warp_out - warp_in (temporal error the translation adds).
GATE_ABOVE = ("l1", "flicker", "failed")
GATE_BELOW = ("psnr", "ssim")


# ------------------------------------------------------------------------------------------ reading
def to_float(text: str | None) -> float | None:
    """A CSV cell as a number; empty or unparseable cells (metrics skipped, failed rows) are None."""
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return None if value is None or math.isnan(value) else value


def read_csv(path: Path, required: tuple[str, ...]) -> tuple[list[dict[str, str]], str | None]:
    """Rows of a CSV, or the problem that stops us using it (said on the page, not raised)."""
    if not path.is_file():
        return [], f"no {path.name} - the stage that writes it did not run or did not finish"
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return [], f"cannot read {path.name}: {e}"
    missing = [c for c in required if c not in columns]
    if missing:
        return [], f"{path.name} lacks the column(s) {', '.join(missing)} (see docs/interfaces.md)"
    if not rows:
        return [], f"{path.name} has no rows"
    return rows, None


def read_json(path: Path) -> tuple[dict[str, Any], str | None]:
    if not path.is_file():
        return {}, f"no {path.name}"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return {}, f"cannot read {path.name}: {e}"
    return (value, None) if isinstance(value, dict) else ({}, f"{path.name} is not a JSON object")


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
class ModelSection:
    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class DataSection:
    counts: dict[str, Counter] = field(default_factory=dict)  # domain -> ok/skipped/failed/train/test
    reasons: Counter = field(default_factory=Counter)  # why files were skipped or failed
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainingSection:
    run: dict[str, Any] = field(default_factory=dict)  # model/run.json as the trainer wrote it
    losses: dict[str, list[float | None]] = field(default_factory=dict)  # column -> values, in step order
    samples: list[Path] = field(default_factory=list)  # model/samples/step_*.png in step order
    notes: list[str] = field(default_factory=list)  # about run.json: shown with the run's facts
    curve_notes: list[str] = field(default_factory=list)  # about losses.csv: shown with the curves

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
    input_root: Path | None = None
    input_root_from: str = ""  # how input_root was found: "--images-root", "run.json", "source column"
    worst: list[GalleryItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[dict[str, str]]:
        return [r for r in self.rows if r.get("status") != "ok"]

    def values(self, metric: str) -> list[float | None]:
        return [to_float(r.get(metric)) for r in self.rows if r.get("status") == "ok"]

    def stats(self) -> dict[str, dict[str, float] | None]:
        return {m: stats_of(self.values(m)) for m in METRICS}

    def gate_values(self) -> dict[str, float | None]:
        means = {m: (s["mean"] if s else None) for m, s in self.stats().items()}
        return {**means, "failed": float(len(self.failures))}


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

    def stats(self) -> dict[str, dict[str, float] | None]:
        return {m: stats_of(self.frames.get(m, [])) for m in VIDEO_METRICS}

    def gate_values(self) -> dict[str, float | None]:
        return {m: (s["mean"] if s else None) for m, s in self.stats().items() if m in (*METRICS, "flicker")}

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


def read_model(run_dir: Path) -> ModelSection:
    from cyclegan_batch.modelfile import read_info

    section = ModelSection(run_dir / "model" / "generators.safetensors")
    try:
        meta = read_info(section.path)
    except UserError as e:
        section.notes.append(str(e))
        return section
    section.info = {
        "domains": list(meta.domains),
        "generator": meta.spec.to_dict(),
        "crop_size": meta.crop_size,
        "load_size": meta.load_size,
        "epoch": meta.epoch,
        "step": meta.step,
        "version": meta.version,
        "bytes": section.path.stat().st_size,
    }
    return section


def read_manifest(run_dir: Path) -> DataSection:
    section = DataSection()
    path = run_dir / "data" / "manifest.jsonl"
    if not path.is_file():
        section.notes.append("no data/manifest.jsonl - `cyclegan-batch prepare` did not run for this experiment")
        return section
    bad_lines = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            bad_lines += 1
            continue
        counts = section.counts.setdefault(str(entry.get("domain", "?")), Counter())
        status = str(entry.get("status", "?"))
        counts["found"] += 1
        counts[status] += 1
        if status == "ok" and entry.get("split"):
            counts[str(entry["split"])] += 1
        if status != "ok":
            section.reasons[str(entry.get("reason") or "no reason given")] += 1
    if bad_lines:
        section.notes.append(f"{bad_lines} line(s) of manifest.jsonl are not JSON and were not counted")
    if not section.counts:
        section.notes.append("data/manifest.jsonl lists no files")
    return section


def read_training(run_dir: Path) -> TrainingSection:
    model_dir = run_dir / "model"
    section = TrainingSection()
    section.run, problem = read_json(model_dir / "run.json")
    if problem:
        section.notes.append(f"model/: {problem}; device, precision and time are unknown")
    rows, problem = read_csv(model_dir / "losses.csv", ("step",))
    if problem:
        section.curve_notes.append(f"model/: {problem}; no training curves")
    for column in rows[0] if rows else []:
        if column != "epoch":
            section.losses[column] = [to_float(r.get(column)) for r in rows]
    section.samples = sorted((model_dir / "samples").glob("step_*.png"))
    return section


def find_input_root(section: ImageSetSection, images_roots: dict[str, Path]) -> None:
    if section.name in images_roots:
        section.input_root, section.input_root_from = images_roots[section.name], "--images-root"
        return
    info, _ = read_json(section.folder / "run.json")
    if info.get("input"):
        root = Path(info["input"])
        root = root if root.is_absolute() else section.folder / root
        section.input_root, section.input_root_from = (root.parent if root.is_file() else root), "run.json"
    elif section.rows and "source" in section.rows[0]:
        section.input_root_from = "source column"


def gallery_item(section: ImageSetSection, row: dict[str, str]) -> GalleryItem:
    item = GalleryItem(
        label=row.get("input", ""),
        metrics={m: to_float(row.get(m)) for m in METRICS},
        input=None,
        output=section.folder / row["output"] if row.get("output") else None,
    )
    if row.get("source"):
        item.input = Path(row["source"])
    elif section.input_root is not None:
        item.input = section.input_root / row.get("input", "")
    if item.input is None:
        item.notes.append("input not located (pass --images-root SET=DIR)")
    elif not item.input.is_file():
        item.notes.append(f"input not found at {item.input}")
        item.input = None
    if item.output is not None and not item.output.is_file():
        item.notes.append("translated file missing")
        item.output = None
    candidates = [section.folder / "reconstructed" / row[k] for k in ("output", "input") if row.get(k)]
    item.reconstruction = next((p for p in candidates if p.is_file()), None)
    if item.reconstruction is None:
        item.notes.append("reconstruction not saved (translate --save-reconstruction)")
    return item


def read_image_set(folder: Path, images_roots: dict[str, Path], worst_k: int) -> ImageSetSection:
    section = ImageSetSection(folder.name, folder)
    section.rows, problem = read_csv(folder / "cycle.csv", ("input", "output", "status", *METRICS))
    if problem:
        section.notes.append(problem)
        return section
    find_input_root(section, images_roots)
    if section.failures:
        section.notes.append(f"{len(section.failures)} of {len(section.rows)} image(s) failed; reasons below")
    scored = [r for r in section.rows if r.get("status") == "ok" and to_float(r.get("l1")) is not None]
    if not scored and len(section.failures) < len(section.rows):
        section.notes.append("no cycle metrics in cycle.csv (translated with --no-cycle?)")
    scored.sort(key=lambda r: to_float(r["l1"]) or 0.0, reverse=True)
    section.worst = [gallery_item(section, r) for r in scored[:worst_k]]
    return section


def find_input_video(section: VideoSection, videos_root: Path | None) -> None:
    given = section.properties.get("input", {}).get("path")
    if given:
        path = Path(given) if Path(given).is_absolute() else section.path.parent / given
        section.input_video = path if path.is_file() else None
    elif videos_root is not None:
        stem = Path(section.name).stem
        same_name = [videos_root / section.name]
        other_suffix = sorted(p for p in videos_root.glob(f"{stem}.*") if p.suffix.lower() in VIDEO_SUFFIXES)
        section.input_video = next((p for p in [*same_name, *other_suffix] if p.is_file()), None)
    if section.input_video is None:
        section.notes.append(
            f"input video {'not found at ' + str(given) if given else 'not located (pass --videos-root DIR)'}: "
            "thumbnails show the output only"
        )


def worst_frames(frames: list[float | None], values: list[float | None], k: int) -> list[int]:
    scored = [(v, int(f)) for f, v in zip(frames, values, strict=True) if v is not None and f is not None]
    return [f for _, f in sorted(scored, key=lambda t: -t[0])[:k]]


def read_video(folder: Path, name: str, videos_root: Path | None, worst_k: int) -> VideoSection:
    section = VideoSection(name, folder / name)
    if not section.path.is_file():
        section.notes.append(f"no video file {name} beside its metrics - translation did not finish")
    section.properties, problem = read_json(folder / f"{name}.json")
    if problem:
        section.notes.append(f"{problem}: properties in vs out unknown")
    if not all(isinstance(section.properties.get(k, {}), dict) for k in ("input", "output")):
        section.notes.append(f"{name}.json lacks the input/output objects of docs/interfaces.md")
        section.properties = {}
    section.notes += [str(w) for w in section.properties.get("warnings") or []]
    rows, problem = read_csv(folder / f"{name}.cycle.csv", ("frame", "time_s", *METRICS, "warp_in", "warp_out"))
    if problem:
        section.notes.append(problem)
    columns = ("frame", "time_s", *METRICS, "warp_in", "warp_out", "fidelity_psnr")  # the last: --temporal only
    section.frames = {c: [to_float(r.get(c)) for r in rows] for c in columns} if rows else {}
    if rows:
        section.frames["flicker"] = [
            o - i if o is not None and i is not None else None
            for i, o in zip(section.frames["warp_in"], section.frames["warp_out"], strict=True)
        ]
        section.worst_cycle = worst_frames(section.frames["frame"], section.frames["l1"], worst_k)
        section.worst_flicker = worst_frames(section.frames["frame"], section.frames["flicker"], worst_k)
        find_input_video(section, videos_root)
    return section


def video_names(folder: Path) -> list[str]:
    """Output videos named by a file, its cycle.csv or its sidecar (so a half-written run still shows)."""
    names = set()
    for path in folder.iterdir() if folder.is_dir() else []:
        name = path.name.removesuffix(".cycle.csv").removesuffix(".json")
        if Path(name).suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
            names.add(name)
    return sorted(names)


def check_gates(gates: list[Gate], report: Report) -> list[GateResult]:
    items = [(f"images/{s.name}", s.gate_values()) for s in report.image_sets]
    items += [(f"videos/{v.name}", v.gate_values()) for v in report.videos]
    results = []
    for gate in gates:
        checked = [(name, values[gate.metric]) for name, values in items if gate.metric in values]
        if not checked:
            results.append(GateResult(gate, "-", None, False, f"nothing in the run has {gate.metric}"))
        for name, value in checked:
            if value is None:
                results.append(GateResult(gate, name, None, False, f"no {gate.metric} values to check"))
                continue
            failed = value > gate.threshold if gate.above else value < gate.threshold
            reason = f"{'mean ' if gate.metric != 'failed' else ''}{gate.metric} = {value:.4g}"
            results.append(GateResult(gate, name, value, not failed, reason))
    return results


def parse_gates(fail_above: list[str], fail_below: list[str]) -> list[Gate]:
    """`METRIC=VALUE` options as gates; a metric on the wrong side is a usage error naming the right one."""
    gates = []
    for texts, above, allowed, other in (
        (fail_above, True, GATE_ABOVE, "--fail-below"),
        (fail_below, False, GATE_BELOW, "--fail-above"),
    ):
        option = "--fail-above" if above else "--fail-below"
        for text in texts:
            metric, sep, raw = text.partition("=")
            metric = metric.strip().lower()
            if metric in (GATE_BELOW if above else GATE_ABOVE):
                raise UserError(f"{option} {text}: higher {metric} is worse there; use {other} {text}", ExitCode.USAGE)
            try:
                threshold = float(raw)
            except ValueError:
                threshold = math.nan
            if not sep or metric not in allowed or math.isnan(threshold):
                raise UserError(
                    f"{option} {text!r}: expected METRIC=NUMBER with METRIC one of {', '.join(allowed)}",
                    ExitCode.USAGE,
                )
            gates.append(Gate(metric, above, threshold))
    return gates


def read_run(
    run_dir: Path,
    *,
    worst_k: int = 8,
    images_roots: dict[str, Path] | None = None,
    videos_root: Path | None = None,
    gates: list[Gate] | None = None,
) -> Report:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"no run folder at {run_dir}; pass results/<experiment> (see docs/interfaces.md)")
    if not any((run_dir / part).exists() for part in ("data", "model", "translated")):
        raise UserError(
            f"{run_dir} has none of data/, model/, translated/ - pass a run folder like results/<experiment>"
        )
    images = run_dir / "translated" / "images"
    set_dirs = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
    videos = run_dir / "translated" / "videos"
    report = Report(
        run_dir=run_dir,
        model=read_model(run_dir),
        data=read_manifest(run_dir),
        training=read_training(run_dir),
        image_sets=[read_image_set(d, images_roots or {}, worst_k) for d in set_dirs],
        videos=[read_video(videos, n, videos_root, worst_k) for n in video_names(videos)],
    )
    report.gates = check_gates(gates or [], report)
    return report


# ------------------------------------------------------------------------------------------ writing
def write_report(report: Report, out_html: Path, *, progress: bool = False) -> Path:
    """Write OUT.html, its assets folder and summary.json beside it; each appears only when complete."""
    from cyclegan_batch.report_html import render_page

    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    assets = out_html.with_name(f"{out_html.stem}_assets")
    staging = out_html.with_name(f".{assets.name}.{uuid.uuid4().hex[:8]}.part")
    staging.mkdir()
    try:
        page = render_page(report, out_html.parent, staging, assets.name, progress=progress)
        old = assets.with_name(f".{assets.name}.{uuid.uuid4().hex[:8]}.old")
        if assets.exists():
            os.replace(assets, old)
        os.replace(staging, assets)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    atomic_write_text(out_html, page)
    summary = out_html.with_name("summary.json")
    atomic_write_text(summary, json.dumps(clean_json(report.to_json()), indent=2, allow_nan=False) + "\n")
    return summary


def clean_json(value: Any) -> Any:
    """JSON has no inf/nan: those become null (stats skip them anyway)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
