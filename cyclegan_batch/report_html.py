"""Render a `Report` as one HTML page: plain HTML and CSS (no JavaScript, no network), pictures in an
assets folder beside the page referenced relatively, and links to the run's own files.

Every number cell carries its full-precision value in `data-value` so tools (and the tests) can
check the page against summary.json and the CSVs; the text shows it rounded for people.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np

from cyclegan_batch import report_plots as plots
from cyclegan_batch.media.images import ImageLoadError, load_rgb
from cyclegan_batch.progress import progress_bar
from cyclegan_batch.report import (
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

SAMPLE_GRIDS = 4  # sample grids shown, spread from first to last
FAILURES_SHOWN = 50

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff; --accent:#0072B2;
  --ok:#009E73; --bad:#D55E00; --warn:#E69F00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:15px/1.5 system-ui,-apple-system,"Segoe UI",
  Roboto,"Helvetica Neue",Arial,sans-serif; }
header { background:var(--ink); color:#fff; padding:28px 0 22px; }
header p { color:#cbd2d9; margin:4px 0 0; }
.wrap { max-width:1120px; margin:0 auto; padding:0 24px; }
h1 { margin:0; font-size:26px; font-weight:650; letter-spacing:-.01em; }
h2 { font-size:20px; margin:36px 0 12px; padding-bottom:6px; border-bottom:2px solid var(--accent); }
h3 { font-size:17px; margin:0 0 10px; }
h4 { font-size:14px; margin:18px 0 8px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
code, .path { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:13px; }
a { color:var(--accent); }
nav { background:#fff; border-bottom:1px solid var(--line); }
nav a { display:inline-block; padding:10px 14px 10px 0; text-decoration:none; font-size:14px; }
.banner { margin-top:16px; padding:10px 14px; border-radius:6px; font-weight:600; }
.banner.pass { background:#e3f6ef; color:#00664a; } .banner.fail { background:#fbe9e1; color:#9a3d00; }
.banner.none { background:#323f4b; color:#e4e7eb; font-weight:500; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; margin-top:18px; }
.tile { background:#323f4b; border-radius:6px; padding:10px 14px; }
.tile b { display:block; font-size:22px; color:#fff; font-variant-numeric:tabular-nums; }
.tile span { color:#cbd2d9; font-size:13px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:18px 20px;
  margin:14px 0; }
.cols { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:14px; }
table { border-collapse:collapse; width:100%; font-size:14px; margin:6px 0 10px; }
table.compact { width:auto; min-width:50%; }
th, td { text-align:left; padding:5px 14px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; font-weight:600; }
tbody tr:nth-child(even) { background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.pass { color:var(--ok); font-weight:600; } .fail { color:var(--bad); font-weight:600; }
.note { margin:8px 0; padding:8px 12px; border-left:4px solid var(--warn); background:#fff8e6; font-size:14px; }
.note.bad { border-color:var(--bad); background:#fdf0ea; }
figure { margin:0; }
figure.plot img { width:100%; height:auto; border:1px solid var(--line); border-radius:6px; background:#fff; }
figcaption { font-size:12px; color:var(--muted); margin-top:4px; }
.grids { display:grid; grid-template-columns:repeat(auto-fit,minmax(220px,1fr)); gap:14px; }
.grids img { width:100%; image-rendering:pixelated; border-radius:4px; border:1px solid var(--line); }
.item { display:grid; grid-template-columns:220px repeat(4, 1fr); gap:10px; align-items:start;
  padding:10px 0; border-top:1px solid var(--line); }
.frames { display:grid; grid-template-columns:repeat(auto-fill,minmax(240px,1fr)); gap:12px; }
.item.video { grid-template-columns:1fr 1fr; border:1px solid var(--line); border-radius:6px; padding:10px; }
.item.video .label { grid-column:1 / -1; }
.item .label { font-size:13px; overflow-wrap:anywhere; }
.item .label b { display:block; font-size:14px; }
.item img { width:100%; height:auto; border-radius:4px; display:block; }
.missing { display:flex; align-items:center; justify-content:center; min-height:90px; background:#f0f2f5;
  border:1px dashed #cbd2d9; border-radius:4px; color:var(--muted); font-size:12px; text-align:center; padding:6px; }
details summary { cursor:pointer; color:var(--accent); font-size:14px; }
footer { color:var(--muted); font-size:12px; padding:30px 0 40px; }
"""


# ------------------------------------------------------------------------------------------ helpers
def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric in ("psnr", "fidelity_psnr"):
        return f"{value:.2f}"
    if metric in ("l1", "ssim", "warp_in", "warp_out", "flicker"):
        return f"{value:.4f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def num(value: float | None, metric: str = "") -> str:
    """A number cell: rounded for people, the exact value in data-value for tools."""
    data = f' data-value="{value!r}"' if value is not None else ""
    return f'<td class="num"{data}>{esc(fmt(value, metric))}</td>'


def table(head: list[str], rows: list[str], cls: str = "", numeric_from: int = 99) -> str:
    ths = "".join(f"<th{' class=num' if i >= numeric_from else ''}>{esc(h)}</th>" for i, h in enumerate(head))
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>'


def kv_table(pairs: list[tuple[str, str]]) -> str:
    """Label | value rows (values are HTML already); nothing when there is nothing to say."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>' if rows else ""


def notes(texts: list[str], bad: bool = False) -> str:
    return "".join(f'<p class="note{" bad" if bad else ""}">{esc(t)}</p>' for t in texts)


def plot_figure(src: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="plot"><img src="{esc(src)}" alt="{esc(alt)}">{cap}</figure>'


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

    def thumb(self, name: str, img: np.ndarray) -> str:
        path, src = self.path(name)
        plots.save_thumbnail(img, path)
        return src

    def link(self, path: Path) -> str:
        """A relative href from the page to a file of the run (so the folder can move as a whole)."""
        return quote(Path(os.path.relpath(Path(path).resolve(), self.page_dir.resolve())).as_posix())


def tile(assets: Assets, name: str, img: np.ndarray | None, link: Path | None, caption: str, missing: str) -> str:
    if img is None:
        return f'<div class="missing">{esc(missing)}</div>'
    pic = f'<img src="{esc(assets.thumb(name, img))}" alt="{esc(caption)}">'
    if link is not None:
        pic = f'<a href="{esc(assets.link(link))}">{pic}</a>'
    return f"<figure>{pic}<figcaption>{esc(caption)}</figcaption></figure>"


def load_or_none(path: Path | None) -> np.ndarray | None:
    try:
        return load_rgb(path) if path is not None else None
    except ImageLoadError:
        return None


def stats_table(stats: dict[str, dict[str, float] | None], metrics: tuple[str, ...]) -> str:
    rows = []
    for m in metrics:
        s = stats.get(m)
        if s is None:
            rows.append(f"<td>{esc(m)}</td>" + '<td class="num">–</td>' * 5)
            continue
        worst = s["max"] if LOWER_IS_BETTER[m] else s["min"]
        cells = "".join(num(s[k], m) for k in ("mean", "median", "p95")) + num(worst, m) + num(s["count"])
        rows.append(f'<td data-metric="{m}">{esc(m)}</td>{cells}')
    return table(["metric", "mean", "median", "p95", "worst", "n"], rows, "stats", numeric_from=1)


# ----------------------------------------------------------------------------------------- sections
def header(report: Report) -> str:
    ok = sum(len(s.rows) - len(s.failures) for s in report.image_sets)
    total = sum(len(s.rows) for s in report.image_sets)
    failed = sum(len(s.failures) for s in report.image_sets)
    if not report.gates:
        banner = '<div class="banner none">No quality gates set (use --fail-above / --fail-below).</div>'
    else:
        bad = [g for g in report.gates if not g.passed]
        cls, text = (
            ("pass", f"All {len(report.gates)} quality gate checks passed.")
            if not bad
            else (
                "fail",
                f"{len(bad)} of {len(report.gates)} quality gate checks failed: "
                + "; ".join(f"{g.item}: {g.reason} ({g.gate.text})" for g in bad[:3]),
            )
        )
        banner = f'<div class="banner {cls}" id="verdict">{esc(text)}</div>'
    tiles = [
        (f"{ok}/{total}", "images translated"),
        (str(failed), "images failed"),
        (str(len(report.image_sets)), "image sets"),
        (str(len(report.videos)), "videos"),
    ]
    tiles_html = "".join(f'<div class="tile"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in tiles)
    when = report.created.replace("T", " ")[:16] + " UTC"
    return (
        f'<header><div class="wrap"><h1>Cycle-error report</h1><p><span class="path">{esc(report.run_dir)}</span>'
        f' · {esc(when)}</p>{banner}<div class="tiles">{tiles_html}</div></div></header>'
    )


def navigation() -> str:
    links = [("summary", "Run summary"), ("training", "Training"), ("samples", "Samples"), ("images", "Image sets")]
    links += [("videos", "Videos"), ("gates", "Quality gates")]
    return '<nav><div class="wrap">' + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</div></nav>"


def summary_section(report: Report, assets: Assets) -> str:
    model, data, run = report.model, report.data, report.training.run
    info = model.info
    model_rows = (
        [
            ("file", f'<a class="path" href="{esc(assets.link(model.path))}">{esc(report.relative(model.path))}</a>'),
            ("domains", esc(" → ".join(info["domains"]))),
            ("generator", esc(", ".join(f"{k}={v}" for k, v in info["generator"].items()))),
            ("crop / load size", esc(f"{info['crop_size']} / {info['load_size']}")),
            ("trained to", esc(f"epoch {info['epoch']}, step {info['step']}")),
            ("written by", esc(f"cyclegan-batch {info['version']}")),
        ]
        if info
        else []
    )
    images = run.get("images") or {}
    seconds = run.get("last_session_seconds")
    throughput = report.training.throughput
    train_rows = [
        ("device", esc(" · ".join(dict.fromkeys(str(run.get(k, "–")) for k in ("device", "device_name"))))),
        ("precision", esc(run.get("precision", "–"))),
        ("steps / epochs", esc(f"{run.get('steps', '–')} / {run.get('epochs', '–')}")),
        ("training images", esc(", ".join(f"{k}: {v}" for k, v in images.items()) or "–")),
        ("wall time (last session)", esc(f"{seconds:.1f} s" if isinstance(seconds, int | float) else "–")),
        ("throughput (median)", esc(f"{throughput:.2f} images/s" if throughput is not None else "–")),
    ]
    statuses = ("found", "ok", "train", "test", "skipped", "failed")
    data_rows = [
        f"<td>{esc(d)}</td>" + "".join(num(c.get(s, 0)) for s in statuses) for d, c in sorted(data.counts.items())
    ]
    reasons = [f"<td>{esc(r)}</td>{num(n)}" for r, n in data.reasons.most_common(10)]
    return (
        '<section id="summary"><h2>Run summary</h2><div class="cols">'
        f'<div class="card" id="model"><h3>Model</h3>{notes(model.notes, bad=True)}{kv_table(model_rows)}</div>'
        f'<div class="card" id="run"><h3>Training run</h3>{notes(report.training.notes)}{kv_table(train_rows)}</div>'
        "</div>"
        f'<div class="card" id="data"><h3>Data</h3>{notes(data.notes)}'
        + (table(["domain", *statuses], data_rows, "counts compact", numeric_from=1) if data_rows else "")
        + (table(["why files were left out", "files"], reasons, "reasons compact", numeric_from=1) if reasons else "")
        + "</div></section>"
    )


def training_section(report: Report, assets: Assets) -> str:
    training = report.training
    body = notes(training.curve_notes)
    if training.losses.get("step"):
        body += plot_figure(
            assets.plot("training-curves.png", plots.training_curves, training.losses),
            "training curves",
            "Every loss term (means over each logging interval) and the learning rate, by step.",
        )
        last = {k: v[-1] for k, v in training.losses.items() if k != "step" and v}
        cells = "".join(num(v).replace("<td ", f'<td data-term="{esc(k)}" ', 1) for k, v in last.items())
        step = fmt(training.losses["step"][-1])
        body += f"<h4>Last logged values (step {step})</h4>" + table(list(last), [cells], "final", numeric_from=0)
    config = training.run.get("config")
    if config:
        rows = [f"<td>{esc(k)}</td><td><code>{esc(v)}</code></td>" for k, v in config.items()]
        body += f"<details><summary>Training configuration</summary>{table(['key', 'value'], rows)}</details>"
    return f'<section id="training"><h2>Training curves</h2><div class="card">{body}</div></section>'


def samples_section(report: Report, assets: Assets) -> str:
    samples = report.training.samples
    if not samples:
        return f'<section id="samples"><h2>Sample grids</h2>{notes(["No sample grids in model/samples/."])}</section>'
    picks = sorted({int(i) for i in np.linspace(0, len(samples) - 1, min(SAMPLE_GRIDS, len(samples))).round()})
    figures = []
    for i in picks:
        path = samples[i]
        img = load_or_none(path)
        caption = f"step {int(path.stem.removeprefix('step_'))}"
        figures.append(tile(assets, f"sample-{i}.jpg", img, path, caption, f"{path.name} unreadable"))
    return (
        '<section id="samples"><h2>Sample grids over training</h2><div class="card">'
        "<p>The same held-back images at each point: every row is real | translated | reconstructed, "
        f"rows from domain A first, then B. {len(picks)} of {len(samples)} grids shown.</p>"
        f'<div class="grids">{"".join(figures)}</div></div></section>'
    )


def metrics_line(metrics: dict[str, float | None]) -> str:
    return " · ".join(f"{m} {fmt(v, m)}" for m, v in metrics.items())


def image_item(assets: Assets, key: str, rank: int, item: GalleryItem) -> str:
    x, out, rec = (load_or_none(p) for p in (item.input, item.output, item.reconstruction))
    heat = plots.error_heatmap(x, rec) if x is not None and rec is not None else None
    why_no_heat = "needs input and reconstruction" if heat is None else ""
    tiles = [
        tile(assets, f"{key}-{rank}-input.jpg", x, item.input, "input", "input not found"),
        tile(assets, f"{key}-{rank}-output.jpg", out, item.output, "translated", "translated file missing"),
        tile(assets, f"{key}-{rank}-rec.jpg", rec, item.reconstruction, "reconstructed", "reconstruction not saved"),
        tile(assets, f"{key}-{rank}-error.jpg", heat, None, "|x − rec|", why_no_heat),
    ]
    extra = "".join(f"<br><small>{esc(n)}</small>" for n in item.notes)
    label = f'<div class="label"><b>#{rank} {esc(item.label)}</b>{esc(metrics_line(item.metrics))}{extra}</div>'
    return f'<div class="item" data-rank="{rank}" data-input="{esc(item.label)}">{label}{"".join(tiles)}</div>'


def image_set_article(index: int, section: ImageSetSection, assets: Assets) -> str:
    key = f"set{index}"
    failures = section.failures
    body = notes(section.notes, bad=bool(failures) or not section.rows)
    if section.rows:
        counts = [num(len(section.rows)), num(len(section.rows) - len(failures)), num(len(failures))]
        body += table(["images", "ok", "failed"], ["".join(counts)], "counts compact", numeric_from=0)
        stats = section.stats()
        if any(stats.values()):
            body += stats_table(stats, METRICS)
            values = {m: section.values(m) for m in METRICS}
            body += plot_figure(
                assets.plot(f"{key}-hist.png", plots.metric_histograms, values),
                f"{section.name} histograms",
                "Distribution over the set's images; solid line: mean, dashed: 95th percentile.",
            )
    if failures:
        rows = [f"<td>{esc(r.get('input', ''))}</td><td>{esc(r.get('reason', ''))}</td>" for r in failures]
        more = len(rows) - FAILURES_SHOWN
        body += "<h4>Failures</h4>" + table(["input", "reason"], rows[:FAILURES_SHOWN], "failures")
        body += f"<p>…and {more} more in cycle.csv.</p>" if more > 0 else ""
    if section.worst:
        source = f" Inputs from {section.input_root_from}." if section.input_root_from else ""
        body += (
            f"<h4>Worst {len(section.worst)} by cycle L1</h4><p>input | translated | reconstructed | error heatmap "
            f"(|x − F(G(x))| averaged over RGB: black 0, yellow ≥ {plots.HEATMAP_MAX}); click a picture for the "
            f"file.{esc(source)}</p>"
            + "".join(image_item(assets, key, i + 1, item) for i, item in enumerate(section.worst))
        )
    folder = f'<a class="path" href="{esc(assets.link(section.folder))}">{esc(section.folder.name)}/</a>'
    return (
        f'<article class="card set" id="set-{index}" data-name="{esc(section.name)}">'
        f"<h3>{esc(section.name)} <small>{folder}</small></h3>{body}</article>"
    )


def frame_item(
    assets: Assets, key: str, video: VideoSection, frame: int, grabbed: dict[str, dict[int, np.ndarray]]
) -> str:
    i = int(np.flatnonzero(np.array(video.frames["frame"]) == frame)[0])
    values = {m: video.frames[m][i] for m in ("l1", "flicker", "fidelity_psnr") if video.frames[m][i] is not None}
    time_s = video.frames["time_s"][i]
    label = f'<div class="label"><b>frame {frame} · t = {fmt(time_s)} s</b>{esc(metrics_line(values))}</div>'
    tiles = [
        tile(assets, f"{key}-f{frame}-in.jpg", grabbed["input"].get(frame), video.input_video, "input", "input n/a"),
        tile(assets, f"{key}-f{frame}-out.jpg", grabbed["output"].get(frame), video.path, "output", "not decoded"),
    ]
    return f'<div class="item video" data-frame="{frame}">{label}{"".join(tiles)}</div>'


def properties_table(video: VideoSection) -> str:
    src, out = video.properties.get("input", {}), video.properties.get("output", {})
    differ = video.mismatches()

    def show(key: str, value: object) -> str:
        if key == "fps" and fps_value(value) is not None:
            return f"{fps_value(value):.3f} ({value})"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "none"
        return "–" if value is None else str(value)

    extra = [k for k in {**src, **out} if k not in (*PROPERTIES, "path")]  # what the sidecar adds: codec, vfr...
    rows = []
    for key in (*PROPERTIES, *extra):
        match = "" if key in extra else ("differs" if key in differ else "same")
        css = "fail" if match == "differs" else "pass"
        rows.append(
            f'<td data-property="{esc(key)}">{esc(key)}</td><td>{esc(show(key, src.get(key)))}</td>'
            f'<td>{esc(show(key, out.get(key)))}</td><td class="{css}">{match}</td>'
        )
    return table(["property", "input", "output", ""], rows, "properties")


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


def video_article(index: int, video: VideoSection, assets: Assets) -> str:
    key = f"video{index}"
    frames = sorted({*video.worst_cycle, *video.worst_flicker})
    grabbed, problems = grab_frames(video, frames)
    body = notes(video.notes + problems, bad=not video.frames)
    if video.properties:
        body += "<h4>Properties in vs out</h4>" + properties_table(video)
    if video.frames:
        stats = video.stats()
        shown = tuple(m for m in VIDEO_METRICS if m != "fidelity_psnr" or stats[m] is not None)
        body += "<h4>Per-frame error</h4>" + stats_table(stats, shown)
        body += "<p><code>flicker</code> = warp_out − warp_in: temporal error the translation adds."
        if "fidelity_psnr" in shown:
            body += " <code>fidelity_psnr</code>: PSNR of each stabilized frame against the per-frame translation."
        body += "</p>"
        body += plot_figure(assets.plot(f"{key}-timeline.png", plots.video_timeline, video.frames), video.name)
    for title, picks in (("largest cycle error", video.worst_cycle), ("largest added flicker", video.worst_flicker)):
        if picks:
            items = "".join(frame_item(assets, key, video, f, grabbed) for f in picks)
            body += f'<h4>Frames with the {title}</h4><div class="frames" data-kind="{title}">{items}</div>'
    link = f'<a class="path" href="{esc(assets.link(video.path))}">{esc(video.name)}</a>'
    return (
        f'<article class="card video" id="video-{index}" data-name="{esc(video.name)}">'
        f"<h3>{esc(video.name)} <small>{link}</small></h3>{body}</article>"
    )


def gates_section(report: Report) -> str:
    if not report.gates:
        body = "<p>No gates set. <code>--fail-above l1=0.2</code> makes the command exit 3 when a set's mean "
        body += "cycle L1 is above 0.2 (also <code>flicker</code>, <code>failed</code>; "
        body += "<code>--fail-below psnr=20</code>, <code>ssim</code>).</p>"
    else:
        rows = [
            f"<td><code>{esc(g.gate.text)}</code></td><td>{esc(g.item)}</td>{num(g.value, g.gate.metric)}"
            + ('<td class="pass">pass</td>' if g.passed else f'<td class="fail">FAIL: {esc(g.reason)}</td>')
            for g in report.gates
        ]
        body = table(["gate", "item", "value", "result"], rows, "gates")
    return f'<section id="gates"><h2>Quality gates</h2><div class="card">{body}</div></section>'


def render_page(report: Report, page_dir: Path, asset_dir: Path, asset_prefix: str, *, progress: bool) -> str:
    """The page's HTML; pictures are written into `asset_dir`, referenced as `asset_prefix/<name>`."""
    assets = Assets(asset_dir, asset_prefix, page_dir)
    parts = [summary_section(report, assets), training_section(report, assets), samples_section(report, assets)]
    items = len(report.image_sets) + len(report.videos)
    with progress_bar("report", items, "item", progress) as advance:
        sets = []
        for i, section in enumerate(report.image_sets, 1):
            sets.append(image_set_article(i, section, assets))
            advance()
        videos = []
        for i, video in enumerate(report.videos, 1):
            videos.append(video_article(i, video, assets))
            advance()
    no_sets = notes(["No image sets in translated/images/ - no images were translated in this run."])
    no_videos = notes(["No videos in translated/videos/ - no videos were translated in this run."])
    parts.append(f'<section id="images"><h2>Image sets</h2>{"".join(sets) or no_sets}</section>')
    parts.append(f'<section id="videos"><h2>Videos</h2>{"".join(videos) or no_videos}</section>')
    parts.append(gates_section(report))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Cycle-error report · {esc(report.run_dir.name)}</title><style>{CSS}</style></head><body>"
        f'{header(report)}{navigation()}<main class="wrap">{"".join(parts)}</main>'
        f'<footer class="wrap">Written by cyclegan-batch report. The same numbers are in summary.json beside '
        "this page.</footer></body></html>\n"
    )
