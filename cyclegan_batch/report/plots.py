"""Pictures for the report: matplotlib figures (Agg, no display needed), thumbnails, error heatmaps, frames.

Figures use `matplotlib.figure.Figure` directly (no pyplot global state) and the page's palette.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

# Okabe-Ito: distinguishable with colour-blindness; the page's CSS uses the same values.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
HEATMAP_MAX = 0.25  # |x - F(G(x))| on the [0, 1] scale that maps to the top of the colour map
DPI = 144

LOSS_PANELS = (
    ("Adversarial (generators)", ("G_A", "G_B")),
    ("Cycle and identity", ("cycle_A", "cycle_B", "idt_A", "idt_B")),
    ("Discriminators", ("D_A", "D_B")),
    ("Flicker regularizer (stability_weight)", ("stab_A", "stab_B")),
    ("Learning rate", ("lr",)),
)
NOT_LOSSES = {"epoch", "step", "lr", "images_per_s"}


def _figure(rows: int, cols: int, height: float, sharex: bool = False) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(10, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=sharex).ravel()
    for ax in axes:
        ax.grid(True, color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(colors=MUTED, labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(GRID)
    return fig, axes


def _series(xs: Sequence[float | None], ys: Sequence[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def training_curves(losses: dict[str, list[float | None]], path: Path) -> None:
    """Every loss term and the learning rate over steps, grouped in panels; unknown terms get a panel.

    A term that is 0 throughout is one the run did not use (losses.csv has a column for every term): left out.
    """
    known = {name for _, names in LOSS_PANELS for name in names}
    others = tuple(k for k in losses if k not in known and k not in NOT_LOSSES)
    used = {k for k, v in losses.items() if any(x for x in v)}
    panels = [(title, [n for n in names if n in used]) for title, names in LOSS_PANELS]
    panels += [("Other terms", [n for n in others if n in used])] if others else []
    panels = [(title, names) for title, names in panels if names]
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = _figure(rows, cols, 2.6 * rows)
    for ax, (title, names) in zip(axes, panels, strict=False):
        for color, name in zip(PALETTE, names, strict=False):
            ax.plot(*_series(losses["step"], losses[name]), color=color, linewidth=1.4, label=name)
        ax.set_title(title, fontsize=10, color=INK, loc="left")
        ax.set_xlabel("step", fontsize=8, color=MUTED)
        ax.legend(fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.savefig(path)


def kid_curve(evaluations: dict[str, list[float | None]], split: str, chosen_step: float | None, path: Path) -> None:
    """KID x100 of each direction and their mean over steps (metrics.csv), each with its +- std band (the noise,
    realism/stats.py), and the chosen step marked."""
    fig, axes = _figure(1, 1, 2.8)
    ax = axes[0]
    steps = evaluations["step"]
    for color, (name, label) in zip(PALETTE, (("a2b", "A→B"), ("b2a", "B→A"), ("mean", "mean")), strict=False):
        kids = evaluations.get(f"kid_x100_{name}")
        if kids is None:
            continue
        stds = evaluations.get(f"kid_x100_std_{name}") or [None] * len(kids)
        rows = [(x, k, sd) for x, k, sd in zip(steps, kids, stds, strict=True) if x is not None and k is not None]
        xs, ks = [r[0] for r in rows], np.array([r[1] for r in rows])
        ax.plot(xs, ks, color=color, linewidth=1.4, marker="o", markersize=3, label=label)
        if rows and all(r[2] is not None for r in rows):
            spread = np.array([r[2] for r in rows])
            ax.fill_between(xs, ks - spread, ks + spread, color=color, alpha=0.15, linewidth=0)
    if chosen_step is not None:
        ax.axvline(chosen_step, color=MUTED, linestyle="--", linewidth=1.0, label=f"chosen (step {chosen_step:g})")
    title = f"KID×100 ± std of the {split} split (lower is more like the other domain)"
    ax.set_title(title, fontsize=10, color=INK, loc="left")
    ax.set_xlabel("step", fontsize=8, color=MUTED)
    ax.legend(fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")
    fig.savefig(path)


def metric_histograms(values: dict[str, list[float | None]], path: Path) -> None:
    """One histogram per metric, with the mean and the 95th percentile marked."""
    present = {m: [v for v in vs if v is not None and np.isfinite(v)] for m, vs in values.items()}
    present = {m: vs for m, vs in present.items() if vs}
    fig, axes = _figure(1, max(1, len(present)), 2.4)
    for ax, color, (metric, vs) in zip(axes, PALETTE, present.items(), strict=False):
        ax.hist(vs, bins=min(30, max(5, len(vs) // 2)), color=color, alpha=0.85)
        ax.axvline(float(np.mean(vs)), color=INK, linewidth=1.2, label="mean")
        ax.axvline(float(np.percentile(vs, 95)), color=INK, linewidth=1.2, linestyle="--", label="p95")
        ax.set_title(metric, fontsize=10, color=INK, loc="left")
        ax.legend(fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")
    fig.savefig(path)


def video_timeline(frames: dict[str, list[float | None]], path: Path) -> None:
    """Cycle L1 over time, and the warping error of input and output over time on one plot."""
    fig, (top, bottom) = _figure(2, 1, 4.4, sharex=True)
    time = frames["time_s"]
    top.plot(*_series(time, frames["l1"]), color=PALETTE[0], linewidth=1.4, label="cycle L1")
    top.set_title("Cycle error per frame", fontsize=10, color=INK, loc="left")
    bottom.plot(*_series(time, frames["warp_in"]), color=PALETTE[2], linewidth=1.4, label="input (warp_in)")
    bottom.plot(*_series(time, frames["warp_out"]), color=PALETTE[1], linewidth=1.4, label="output (warp_out)")
    bottom.set_title("Temporal (warping) error: input vs output", fontsize=10, color=INK, loc="left")
    bottom.set_xlabel("time (s)", fontsize=8, color=MUTED)
    for ax in (top, bottom):
        ax.legend(fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")
    fig.savefig(path)


def error_heatmap(x: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """|x - rec| averaged over RGB as a colour image (black 0 .. yellow >= HEATMAP_MAX); rec resized to x."""
    if rec.shape != x.shape:
        rec = np.asarray(Image.fromarray(rec).resize((x.shape[1], x.shape[0]), Image.Resampling.BILINEAR))
    err = np.abs(x.astype(np.float32) - rec.astype(np.float32)).mean(axis=2) / 255.0
    rgba = colormaps["magma"](np.clip(err / HEATMAP_MAX, 0, 1))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def save_thumbnail(img: np.ndarray, path: Path, max_side: int = 256) -> None:
    """A JPEG no larger than max_side; small images are scaled up with nearest-neighbour to stay crisp."""
    pil = Image.fromarray(img)
    scale = max_side / max(pil.size)
    size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
    method = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST
    pil.resize(size, method).save(path, format="JPEG", quality=88)


def read_frames(video: Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode only until the last wanted frame; frame i is the i-th decoded frame (cycle.csv's `frame`)."""
    import imageio_ffmpeg

    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    if not wanted:
        return found
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
    try:
        width, height = next(reader)["size"]
        for i, buffer in enumerate(reader):
            if i in wanted:
                found[i] = np.frombuffer(buffer, np.uint8).reshape(height, width, 3).copy()
                if len(found) == len(wanted):
                    break
    finally:
        reader.close()
    return found
