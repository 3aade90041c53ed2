"""Write a `Report` as one HTML page (templates/report.html.j2), its pictures and summary.json.

Plain HTML and CSS (no JavaScript, no network); pictures go into an assets folder beside the page and are
referenced relatively, and links point at the run's own files, so the folder can move as a whole. This
module draws the pictures and hands the template what it shows; the template holds the markup.

Every number cell carries its full-precision value in `data-value` so tools (and the tests) can check the
page against summary.json and the CSVs; the text shows it rounded for people.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import numpy as np

from cyclegan_batch import runfolder
from cyclegan_batch.media.images import ImageLoadError, load_rgb
from cyclegan_batch.report import plots
from cyclegan_batch.report.model import (
    LOWER_IS_BETTER,
    METRICS,
    PROPERTIES,
    VIDEO_METRICS,
    GalleryItem,
    ImageSetSection,
    Report,
    VideoSection,
    fps_value,
)
from cyclegan_batch.util.atomic import atomic_write_text
from cyclegan_batch.util.progress import progress_bar

SAMPLE_GRIDS = 4  # sample grids shown, spread from first to last
FAILURES_SHOWN = 50
FOUR_DECIMALS = ("l1", "ssim", "warp_in", "warp_out", "flicker")

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("cyclegan_batch.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric in ("psnr", "fidelity_psnr"):
        return f"{value:.2f}"
    if metric in FOUR_DECIMALS:
        return f"{value:.4f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


TEMPLATES.filters["fmt"] = fmt
TEMPLATES.filters["pyrepr"] = repr


@dataclass
class Tile:
    """One picture of a gallery (or the reason it is missing)."""

    caption: str
    src: str = ""
    href: str = ""
    missing: str = ""


class Assets:
    """Pictures written into the page's (staging) assets folder and referenced relatively from the page."""

    def __init__(self, folder: Path, prefix: str, page_dir: Path) -> None:
        self.folder, self.prefix, self.page_dir = folder, prefix, page_dir

    def path(self, name: str) -> tuple[Path, str]:
        return self.folder / name, f"{quote(self.prefix)}/{quote(name)}"

    def plot(self, name: str, draw: Callable[..., None], *args: object) -> str:
        path, src = self.path(name)
        draw(*args, path)
        return src

    def link(self, path: Path) -> str:
        """A relative href from the page to a file of the run."""
        return quote(Path(os.path.relpath(Path(path).resolve(), self.page_dir.resolve())).as_posix())

    def tile(self, name: str, img: np.ndarray | None, link: Path | None, caption: str, missing: str) -> Tile:
        if img is None:
            return Tile(caption, missing=missing)
        path, src = self.path(name)
        plots.save_thumbnail(img, path)
        return Tile(caption, src=src, href=self.link(link) if link is not None else "")


def load_or_none(path: Path | None) -> np.ndarray | None:
    try:
        return load_rgb(path) if path is not None else None
    except ImageLoadError:
        return None


def metrics_line(metrics: dict[str, float | None]) -> str:
    return " · ".join(f"{m} {fmt(v, m)}" for m, v in metrics.items())


def stats_rows(stats: dict[str, dict[str, float] | None], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per metric: mean, median, p95, the worst value (by the metric's direction) and the count."""
    rows = []
    for m in metrics:
        s = stats.get(m)
        worst = None if s is None else (s["max"] if LOWER_IS_BETTER[m] else s["min"])
        values = [] if s is None else [s["mean"], s["median"], s["p95"], worst]
        rows.append({"metric": m, "values": values, "count": None if s is None else s["count"]})
    return rows


# ----------------------------------------------------------------------------------------- sections
def verdict(report: Report) -> tuple[str, str]:
    """The banner's class and text."""
    if not report.gates:
        return "none", "No quality gates set (use --fail-above / --fail-below)."
    bad = [g for g in report.gates if not g.passed]
    if not bad:
        return "pass", f"All {len(report.gates)} quality gate checks passed."
    failed = "; ".join(f"{g.item}: {g.reason} ({g.gate.text})" for g in bad[:3])
    return "fail", f"{len(bad)} of {len(report.gates)} quality gate checks failed: {failed}"


def header_tiles(report: Report) -> list[tuple[str, str]]:
    ok = sum(len(s.rows) - len(s.failures) for s in report.image_sets)
    total = sum(len(s.rows) for s in report.image_sets)
    failed = sum(len(s.failures) for s in report.image_sets)
    return [
        (f"{ok}/{total}", "images translated"),
        (str(failed), "images failed"),
        (str(len(report.image_sets)), "image sets"),
        (str(len(report.videos)), "videos"),
    ]


def _settings(value: dict[str, Any] | str) -> str:
    return ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value


def summary_view(report: Report, assets: Assets) -> dict[str, Any]:
    model, data, run = report.model, report.data, report.training.run
    info = model.info
    model_rows = (
        [
            ("domains", " → ".join(info["domains"])),
            ("generator", ", ".join(f"{k}={v}" for k, v in info["generator"].items())),
            ("crop / load size", f"{info['crop_size']} / {info['load_size']}"),
            ("flicker regularizer", _settings(info.get("stability", "off"))),
            ("trained to", f"epoch {info['epoch']}, step {info['step']}"),
            *([("chosen", info["selected"])] if "selected" in info else []),
            ("written by", f"cyclegan-batch {info['version']}"),
        ]
        if info
        else []
    )
    images = run.get("images") or {}
    seconds = run.get("last_session_seconds")
    throughput = report.training.throughput
    train_rows = [
        ("device", " · ".join(dict.fromkeys(str(run.get(k, "–")) for k in ("device", "device_name")))),
        ("precision", run.get("precision", "–")),
        ("steps / epochs", f"{run.get('steps', '–')} / {run.get('epochs', '–')}"),
        ("training images", ", ".join(f"{k}: {v}" for k, v in images.items()) or "–"),
        ("wall time (last session)", f"{seconds:.1f} s" if isinstance(seconds, int | float) else "–"),
        ("throughput (median)", f"{throughput:.2f} images/s" if throughput is not None else "–"),
    ]
    statuses = ("found", "ok", *runfolder.SPLITS, "skipped", "failed")
    return {
        "model_file": (assets.link(model.path), report.relative(model.path)) if info else None,
        "model_rows": model_rows,
        "train_rows": train_rows,
        "statuses": statuses,
        "counts": [(d, [c.get(s, 0) for s in statuses]) for d, c in sorted(data.counts.items())],
        "reasons": data.reasons.most_common(10),
    }


def training_view(report: Report, assets: Assets) -> dict[str, Any]:
    training = report.training
    view: dict[str, Any] = {"curves": None, "last": {}, "last_step": None, "config": training.run.get("config")}
    if training.losses.get("step"):
        view["curves"] = assets.plot("training-curves.png", plots.training_curves, training.losses)
        view["last"] = {k: v[-1] for k, v in training.losses.items() if k != "step" and v}
        view["last_step"] = fmt(training.losses["step"][-1])
    best = training.best_evaluation
    view["kid_curve"] = (
        assets.plot("kid-curve.png", plots.kid_curve, training.evaluations, training.evaluated_on, best["step"])
        if best
        else None
    )
    view["evaluated_on"] = training.evaluated_on
    view["test_split"] = report.test_split
    return view


def samples_view(report: Report, assets: Assets) -> dict[str, Any]:
    samples = report.training.samples
    picks = sorted({int(i) for i in np.linspace(0, len(samples) - 1, min(SAMPLE_GRIDS, len(samples))).round()})
    tiles = []
    for i in picks:
        path = samples[i]
        caption = f"step {int(path.stem.removeprefix('step_'))}"
        tiles.append(assets.tile(f"sample-{i}.jpg", load_or_none(path), path, caption, f"{path.name} unreadable"))
    return {"total": len(samples), "tiles": tiles}


def image_item_view(assets: Assets, key: str, rank: int, item: GalleryItem) -> dict[str, Any]:
    x, out, rec = (load_or_none(p) for p in (item.input, item.output, item.reconstruction))
    heat = plots.error_heatmap(x, rec) if x is not None and rec is not None else None
    return {
        "rank": rank,
        "item": item,
        "metrics": metrics_line(item.metrics),
        "tiles": [
            assets.tile(f"{key}-{rank}-input.jpg", x, item.input, "input", "input not found"),
            assets.tile(f"{key}-{rank}-output.jpg", out, item.output, "translated", "translated file missing"),
            assets.tile(f"{key}-{rank}-rec.jpg", rec, item.reconstruction, "reconstructed", "reconstruction not saved"),
            assets.tile(f"{key}-{rank}-error.jpg", heat, None, "|x − rec|", "needs input and reconstruction"),
        ],
    }


def image_set_view(index: int, section: ImageSetSection, assets: Assets) -> dict[str, Any]:
    key = f"set{index}"
    view: dict[str, Any] = {"index": index, "section": section, "stats": None, "hist": None}
    stats = section.stats()
    if section.rows and any(stats.values()):
        view["stats"] = stats_rows(stats, METRICS)
        values = {m: section.values(m) for m in METRICS}
        view["hist"] = assets.plot(f"{key}-hist.png", plots.metric_histograms, values)
    view["failures"] = section.failures[:FAILURES_SHOWN]
    view["more_failures"] = len(section.failures) - FAILURES_SHOWN
    view["worst"] = [image_item_view(assets, key, i + 1, item) for i, item in enumerate(section.worst)]
    view["folder"] = assets.link(section.folder)
    return view


def show_property(key: str, value: object) -> str:
    if key == "fps" and fps_value(value) is not None:
        return f"{fps_value(value):.3f} ({value})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return "–" if value is None else str(value)


def property_rows(video: VideoSection) -> list[dict[str, str]]:
    """Input vs output for every property; the ones a translation must keep are judged same/differs."""
    src, out = video.properties.get("input", {}), video.properties.get("output", {})
    differ = video.mismatches()
    extra = [k for k in {**src, **out} if k not in (*PROPERTIES, "path")]  # what the sidecar adds: codec, vfr...
    rows = []
    for key in (*PROPERTIES, *extra):
        match = "" if key in extra else ("differs" if key in differ else "same")
        rows.append(
            {
                "key": key,
                "input": show_property(key, src.get(key)),
                "output": show_property(key, out.get(key)),
                "match": match,
                "css": "fail" if match == "differs" else "pass",
            }
        )
    return rows


def grab_frames(video: VideoSection, frames: list[int]) -> tuple[dict[str, dict[int, np.ndarray]], list[str]]:
    grabbed: dict[str, dict[int, np.ndarray]] = {"input": {}, "output": {}}
    problems = []
    for side, path in (("input", video.input_video), ("output", video.path)):
        if path is None or not path.is_file():
            continue
        try:
            grabbed[side] = plots.read_frames(path, frames)
        except (OSError, RuntimeError, StopIteration, ValueError) as e:
            problems.append(f"cannot decode frames of the {side} video: {str(e).splitlines()[0] if str(e) else e}")
    return grabbed, problems


def frame_view(
    assets: Assets, key: str, video: VideoSection, frame: int, grabbed: dict[str, dict[int, np.ndarray]]
) -> dict[str, Any]:
    i = int(np.flatnonzero(np.array(video.frames["frame"]) == frame)[0])
    values = {m: video.frames[m][i] for m in ("l1", "flicker", "fidelity_psnr") if video.frames[m][i] is not None}
    return {
        "frame": frame,
        "time": fmt(video.frames["time_s"][i]),
        "metrics": metrics_line(values),
        "tiles": [
            assets.tile(f"{key}-f{frame}-in.jpg", grabbed["input"].get(frame), video.input_video, "input", "input n/a"),
            assets.tile(f"{key}-f{frame}-out.jpg", grabbed["output"].get(frame), video.path, "output", "not decoded"),
        ],
    }


def video_view(index: int, video: VideoSection, assets: Assets) -> dict[str, Any]:
    key = f"video{index}"
    grabbed, problems = grab_frames(video, sorted({*video.worst_cycle, *video.worst_flicker}))
    view: dict[str, Any] = {
        "index": index,
        "video": video,
        "notes": video.notes + problems,
        "properties": property_rows(video) if video.properties else [],
        "stats": None,
        "fidelity": False,
        "timeline": assets.plot(f"{key}-timeline.png", plots.video_timeline, video.frames) if video.frames else None,
        "link": assets.link(video.path),
    }
    if video.frames:
        stats = video.stats()
        view["fidelity"] = stats["fidelity_psnr"] is not None  # only a stabilized video (--temporal) has it
        shown = tuple(m for m in VIDEO_METRICS if m != "fidelity_psnr" or view["fidelity"])
        view["stats"] = stats_rows(stats, shown)
    view["galleries"] = [
        (title, [frame_view(assets, key, video, f, grabbed) for f in picks])
        for title, picks in (("largest cycle error", video.worst_cycle), ("largest added flicker", video.worst_flicker))
        if picks
    ]
    return view


# ------------------------------------------------------------------------------------------ writing
def render_page(report: Report, page_dir: Path, asset_dir: Path, asset_prefix: str, *, progress: bool) -> str:
    """The page's HTML; pictures are written into `asset_dir`, referenced as `asset_prefix/<name>`."""
    assets = Assets(asset_dir, asset_prefix, page_dir)
    context: dict[str, Any] = {
        "report": report,
        "verdict": verdict(report),
        "tiles": header_tiles(report),
        "when": report.created.replace("T", " ")[:16] + " UTC",
        "summary": summary_view(report, assets),
        "training": training_view(report, assets),
        "samples": samples_view(report, assets),
        "heatmap_max": plots.HEATMAP_MAX,
        "metrics": METRICS,
    }
    with progress_bar("report", len(report.image_sets) + len(report.videos), "item", progress) as advance:
        context["image_sets"] = []
        for i, section in enumerate(report.image_sets, 1):
            context["image_sets"].append(image_set_view(i, section, assets))
            advance()
        context["videos"] = []
        for i, video in enumerate(report.videos, 1):
            context["videos"].append(video_view(i, video, assets))
            advance()
    return TEMPLATES.get_template("report.html.j2").render(context)


def write_report(report: Report, out_html: Path, *, progress: bool = False) -> Path:
    """Write OUT.html, its assets folder and summary.json beside it; each appears only when complete."""
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    assets = runfolder.report_assets(out_html)
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
    summary = out_html.with_name(runfolder.REPORT_SUMMARY)
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
