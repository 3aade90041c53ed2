"""Temporal stabilization judged on what the user gets: the ENCODED files `cyclegan-batch translate` writes.

    .venv/bin/python -m bench.temporal_encoded                 # every clip, 30 frames each, and the cost
    .venv/bin/python -m bench.temporal_encoded --frames 20 --skip-speed
    .venv/bin/python -m bench.temporal_encoded --keep /tmp/enc  # keep the clips and outputs to look at

Clips: the real ones in ../shared/data/ (trimmed to --frames), clips cut and assembled from them (a
640x272 crop of Big Buck Bunny standing in for a street clip, a hard cut between two real clips, a frozen real
frame with sensor noise), the demo videos, and the synthetic clips of bench/temporal_clips.py. HELD_OUT clips
were kept out of the stabilizer's tuning and are printed separately.

Per clip, two CLI runs with default settings over one folder: `--no-temporal` (the per-frame translation) and
the default (stabilized), both with `--frames-dir`, so the frames before the encoder come with the encoded file.
Two measures the stabilizer does not use (it uses DIS flow on the input frames):
- `fb`: warping error along OpenCV Farneback flow of the INPUT frames (forward-backward consistent pixels).
- `own`: each video's warping error along Farneback flow computed on ITS OWN frames (input along the input's
  flow, output along the output's), so a blend that only agrees with the input's motion is not rewarded.
`removed` = (out - stab) / (out - in) of the mean over frames (cut frames left out): the share of the flicker
the translation added that stabilization took away. `fid` = mean PSNR(stabilized, per-frame) of the decoded
files; `cut` = that PSNR at the first frame after a hard cut; static clips also print stab/in.
`enc` repeats `fb removed` on the lossless frames (--frames-dir PNGs, before the encoder): the gap to the
encoded figure is the encoder's share. Cost: end-to-end `translate` wall time with and without stabilization
on a 640-wide clip, interleaved runs, the ratio of medians.

    .venv/bin/python -m bench.temporal_encoded --models runs/models.txt --skip-speed   # + a table per model

`--models FILE` (lines `name=model file`, as bench/stability_train.py writes them; names ending `_s<seed>`
are one setting's seeds) adds the per-model table on the REAL clips: ../shared/data's carphone and the
footage bench/real_clips.py fetches (bikes: fast real motion; box and tree: handheld cameras; REAL_HELD_OUT
kept out of tuning), each encoded file decoded two ways, both graded along Farneback flow of the input
decoded the same way: `default` is imageio's ffmpeg reader (swscale's default conversion: 4:2:0 chroma
repeated over 2x2 blocks), `interp` the project's reader (chroma interpolated to every pixel). Per clip,
decode and model: the input's warping error, the per-frame translation's, its added flicker (the
difference), the stabilized file's and the share of the added flicker stabilization removed, with the
fidelity (PSNR stabilized vs per-frame).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench import real_clips
from bench.temporal_clips import CLIPS, write_clip
from cyclegan_batch.demo import build_demo
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import rgb_frames
from cyclegan_batch.metrics import psnr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)  # pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
# kept out of the stabilizer's tuning
HELD_OUT = ("carphone", "bbb_720p", "occlusion", "lighting", "rocket_tilt", "bikes", "box", "tree")
CUTS = {"hard_cut": lambda n: n // 2, "real_cut": lambda n: n // 2}  # first frame after the cut
STATIC = ("static", "real_static")
REAL = ("bikes", "carphone", "box", "tree")  # real camera footage: the per-model table's clips
REAL_HELD_OUT = ("tree",)  # kept out of the tuning of stability_weight


def decode(path: Path, frames: int = 10**6) -> np.ndarray:
    reader = FrameReader(path, probe(path), max_frames=frames, planes=False)
    try:
        return np.stack(list(rgb_frames(reader)))
    finally:
        reader.close()


def decode_default(path: Path, frames: int = 10**6) -> np.ndarray:
    """imageio's ffmpeg reader, swscale's default conversion (4:2:0 chroma repeated over 2x2 blocks)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    w, h = next(reader)["size"]
    out = []
    for raw in reader:
        out.append(np.frombuffer(raw, np.uint8).reshape(h, w, 3))
        if len(out) == frames:
            reader.close()
            break
    return np.stack(out)


DECODES: dict[str, Callable[[Path], np.ndarray]] = {"default": decode_default, "interp": decode}


def pngs(folder: Path) -> np.ndarray:
    return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.png"))])


class Farneback:
    """Forward-backward consistent Farneback flow between consecutive frames: (maps, mask) per frame t >= 1."""

    def __init__(self, frames: np.ndarray) -> None:
        h, w = frames.shape[1:3]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        self.warps = []
        for t in range(1, len(frames)):
            back = cv2.calcOpticalFlowFarneback(grey[t], grey[t - 1], None, *FARNEBACK)
            fwd = cv2.calcOpticalFlowFarneback(grey[t - 1], grey[t], None, *FARNEBACK)
            mx, my = xs + back[..., 0], ys + back[..., 1]
            there = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            loop = back + there
            ok = (loop**2).sum(-1) < 0.01 * ((back**2).sum(-1) + (there**2).sum(-1)) + 0.5
            ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
            self.warps.append(((mx, my), ok))

    def errors(self, frames: np.ndarray) -> np.ndarray:
        """Per-frame (t >= 1) mean |frame_t - warp(frame_t-1)| on [0, 1] over the consistent pixels."""
        out = []
        for t, (maps, ok) in enumerate(self.warps, start=1):
            warped = cv2.remap(frames[t - 1], *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            diff = np.abs(frames[t].astype(np.float32) - warped.astype(np.float32)).mean(-1)
            out.append(diff[ok].mean() / 255.0 if ok.any() else 0.0)
        return np.array(out)


def removed(w_in: float, w_out: float, w_stab: float) -> float:
    return (w_out - w_stab) / (w_out - w_in) if w_out > w_in else float("nan")


def measure(name: str, src: Path, per_frame: Path, stabilized: Path, lossless: tuple[Path, Path]) -> dict:
    inputs, out, stab = decode(src), decode(per_frame), decode(stabilized)
    n = min(len(inputs), len(out), len(stab))
    inputs, out, stab = inputs[:n], out[:n], stab[:n]
    cut = CUTS[name](n) if name in CUTS else None
    keep = [t - 1 for t in range(1, n) if t != cut]  # the frame after a cut has no motion to follow
    fb = Farneback(inputs)
    w_in, w_out, w_stab = (float(fb.errors(v)[keep].mean()) for v in (inputs, out, stab))
    own_in, own_out, own_stab = (float(Farneback(v).errors(v)[keep].mean()) for v in (inputs, out, stab))
    raw_out, raw_stab = (pngs(d)[:n] for d in lossless)
    row = {
        "in": w_in,
        "out": w_out,
        "stab": w_stab,
        "removed": removed(w_in, w_out, w_stab),
        "own": removed(own_in, own_out, own_stab),
        "enc": removed(w_in, *(float(fb.errors(v)[keep].mean()) for v in (raw_out, raw_stab))),
        "fid": float(np.mean([min(psnr(stab[t], out[t]), 60.0) for t in range(n)])),
        "cut": psnr(stab[cut], out[cut]) if cut is not None else None,
        "static": w_stab / w_in if name in STATIC else None,
        "static_out": w_out / w_in if name in STATIC else None,
    }
    return row


def cli(*args: str | Path) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    command = [sys.executable, "-m", "cyclegan_batch", "translate", *map(str, args), "--quiet"]  # installed or not
    subprocess.run(command, env=env, check=True)


def ffmpeg(*args: str | Path) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def make_real_clips(clips: Path, frames: int) -> dict[str, Path]:
    """The REAL camera clips (carphone and the fetched ones, bench/real_clips.py), trimmed, near-lossless."""
    paths = {"carphone": clips / "carphone.mp4"}
    ffmpeg("-i", DATA / "carphone_qcif_4s.mp4", "-frames:v", frames, "-c:v", "libx264", "-crf", "10", paths["carphone"])
    fetched = real_clips.CACHE
    if gone := real_clips.missing(fetched):
        print(f"skipping the clips {', '.join(gone)}: not in {fetched} (python -m bench.real_clips fetches them)")
    for name in (n for n in real_clips.CLIPS if n not in gone):  # their first frames, no audio, evenly timed
        paths[Path(name).stem] = clips / f"{Path(name).stem}.mp4"  # (tree.avi's timestamps are irregular)
        ffmpeg("-i", fetched / name, "-frames:v", frames, "-an", "-vf", "setpts=N/FRAME_RATE/TB", "-c:v", "libx264",
               "-crf", "10", "-pix_fmt", "yuv420p", paths[Path(name).stem])  # fmt: skip
    return paths


def make_clips(work: Path, frames: int, real_only: bool = False) -> dict[str, Path]:
    """Every clip (or the REAL ones), trimmed to `frames`, as an mp4 in `work`/clips (one translate call's folder)."""
    clips = work / "clips"
    clips.mkdir(parents=True)
    paths = make_real_clips(clips, frames)
    if real_only:
        return paths
    bbb, carphone = DATA / "bigbuckbunny_720p_5s.mp4", DATA / "carphone_qcif_4s.mp4"
    # real footage: trimmed, near-lossless, audio kept (5.1 for bbb)
    paths["bbb_720p"] = clips / "bbb_720p.mp4"
    ffmpeg("-i", bbb, "-frames:v", frames, "-c:v", "libx264", "-crf", "10", "-c:a", "copy", paths["bbb_720p"])
    # a 640x272 "street" stand-in: 2.39:1 crop of bbb, later in the clip (characters moving)
    paths["street"] = clips / "street.mp4"
    ffmpeg("-ss", "2", "-i", bbb, "-frames:v", frames, "-vf", "crop=1280:536:0:92,scale=640:272", "-an",
           "-c:v", "libx264", "-crf", "10", paths["street"])  # fmt: skip
    street = decode(paths["street"])
    phone = [cv2.resize(f, (640, 272), interpolation=cv2.INTER_CUBIC) for f in decode(carphone, frames)]
    half = frames // 2
    paths["real_cut"] = write_clip([*street[:half], *phone[half:frames]], clips / "real_cut.mp4")
    rng = np.random.default_rng(1)
    still = street[0].astype(np.float32)
    noisy = [np.clip(still + rng.normal(0, 2.5, still.shape) + 0.5, 0, 255).astype(np.uint8) for _ in range(frames)]
    paths["real_static"] = write_clip(noisy, clips / "real_static.mp4")
    build_demo(work / "demo", n_train=1, n_heldout=1)
    for video in sorted((work / "demo" / "videos").glob("*.mp4")):
        paths[video.stem] = clips / video.name
        ffmpeg("-i", video, "-frames:v", frames, "-c:v", "libx264", "-crf", "10", paths[video.stem])
    for name, make in CLIPS.items():
        paths[name] = write_clip(make(frames), clips / f"{name}.mp4")
    return paths


def quality(work: Path, paths: dict[str, Path], extra: list[str]) -> dict[str, dict]:
    for mode, flags in (("per_frame", ["--no-temporal"]), ("stabilized", [])):
        cli(work / "clips", work / mode, "--frames-dir", work / f"{mode}_frames", *flags, *extra)
    rows = {}
    for name, src in paths.items():
        lossless = (work / "per_frame_frames" / name, work / "stabilized_frames" / name)
        rows[name] = measure(name, src, work / "per_frame" / src.name, work / "stabilized" / src.name, lossless)
    return rows


def report(rows: dict[str, dict]) -> None:
    head = "| clip | warp in | per-frame | stabilized | removed (fb) | removed (own) | lossless (fb) | PSNR dB"
    head += " | cut dB"
    head += " static |"
    for title, held in (("tuned on", False), ("held out", True)):
        names = [n for n in rows if (n in HELD_OUT) == held]
        print(f"\n{title}\n{head}\n|---|" + "---:|" * 9)
        for name in names:
            r = rows[name]
            cut = f"{r['cut']:.1f}" if r["cut"] is not None else ""
            static = f"{r['static']:.2f} (per-frame {r['static_out']:.2f})" if r["static"] is not None else ""
            print(
                f"| {name} | {r['in']:.4f} | {r['out']:.4f} | {r['stab']:.4f} | {r['removed']:.0%} | {r['own']:.0%} "
                f"| {r['enc']:.0%} | {r['fid']:.1f} | {cut} | {static} |",
                flush=True,
            )


def model_flicker(
    work: Path, paths: dict[str, Path], models: dict[str, Path], stabilized: bool = True
) -> dict[tuple[str, str, str], dict]:
    """(clip, decode, model) -> the per-frame and stabilized warping errors of each model's encoded files
    (without `stabilized`, the per-frame ones only: a quicker look while tuning)."""
    real = work / "real"
    real.mkdir()
    for name in (n for n in REAL if n in paths):
        shutil.copy(paths[name], real / paths[name].name)
    for model, path in models.items():
        for mode, flags in (("per_frame", ["--no-temporal"]), ("stabilized", []))[: 2 if stabilized else 1]:
            cli(real, work / "models" / model / mode, "--model", path, *flags)
    rows = {}
    for name in (n for n in REAL if n in paths):
        for decode_name, dec in DECODES.items():
            inputs = dec(real / paths[name].name)
            fb = Farneback(inputs)
            w_in = float(fb.errors(inputs).mean())
            for model in models:
                out = dec(work / "models" / model / "per_frame" / paths[name].name)
                stab = dec(work / "models" / model / "stabilized" / paths[name].name) if stabilized else out
                n = len(inputs)  # translate keeps every frame
                w_out, w_stab = (float(fb.errors(v).mean()) for v in (out, stab))
                rows[name, decode_name, model] = {
                    "in": w_in,
                    "out": w_out,
                    "added": w_out - w_in,
                    "stab": w_stab,
                    "removed": removed(w_in, w_out, w_stab),
                    "fid": float(np.mean([min(psnr(stab[t], out[t]), 60.0) for t in range(n)])),
                }
    return rows


def setting(model: str) -> str:
    """`golden_stable_s1` -> `golden_stable`: the seeds of one setting go together."""
    head, _, seed = model.rpartition("_s")
    return head if seed.isdigit() else model


def report_models(rows: dict[tuple[str, str, str], dict]) -> None:
    """Per clip and decode: each setting's mean over seeds (and the spread), then every model's own row."""
    settings: dict[str, list[str]] = {}
    for model in dict.fromkeys(m for _, _, m in rows):
        settings.setdefault(setting(model), []).append(model)
    clips = list(dict.fromkeys((c, d) for c, d, _ in rows))
    print("\nper-frame added flicker (warp out - warp in, Farneback, encoded files), mean over seeds [min-max]")
    print("| clip | decode | warp in | " + " | ".join(settings) + " |\n|---|---|---:|" + "---:|" * len(settings))
    for clip, dec in clips:
        cells = []
        for models in settings.values():
            added = [rows[clip, dec, m]["added"] for m in models]
            cells.append(f"{np.mean(added):.4f} [{min(added):.4f}-{max(added):.4f}]")
        held = " (held out)" if clip in REAL_HELD_OUT else ""
        print(
            f"| {clip}{held} | {dec} | {rows[clip, dec, next(iter(settings.values()))[0]]['in']:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    print("\nstabilized: warp error, share of the added flicker removed, fidelity (PSNR vs per-frame); mean over seeds")
    print("| clip | decode | " + " | ".join(settings) + " |\n|---|---|" + "---:|" * len(settings))
    for clip, dec in clips:
        cells = []
        for models in settings.values():
            r = [rows[clip, dec, m] for m in models]
            share = np.nanmean([x["removed"] for x in r]) if any(np.isfinite(x["removed"]) for x in r) else float("nan")
            cells.append(f"{np.mean([x['stab'] for x in r]):.4f}, {share:.0%}, {np.mean([x['fid'] for x in r]):.1f} dB")
        print(f"| {clip} | {dec} | " + " | ".join(cells) + " |")
    print("\nevery model")
    for (clip, dec, model), r in rows.items():
        print(f"{clip:9} {dec:8} {model:22} in {r['in']:.4f} out {r['out']:.4f} added {r['added']:+.4f} "
              f"stab {r['stab']:.4f} removed {r['removed']:.0%} fid {r['fid']:.1f} dB")  # fmt: skip


def cost(work: Path, repeats: int, frames: int) -> None:
    """End-to-end `translate` seconds with and without stabilization at 640 px, interleaved in this run."""
    clip = work / "cost" / "street640.mp4"
    clip.parent.mkdir()
    shutil.copy(work / "clips" / "street.mp4", clip)
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(repeats):
        for mode, flags in (("off", ["--no-temporal"]), ("on", [])):
            start = time.perf_counter()
            cli(clip, work / "cost" / f"{mode}{r}", *flags)
            seconds[mode].append(time.perf_counter() - start)
    off, on = statistics.median(seconds["off"]), statistics.median(seconds["on"])
    print(f"\ncost, 640x272, {frames} frames, {repeats} interleaved runs: --no-temporal {off:.1f} s, "
          f"stabilized {on:.1f} s: {on / off - 1:+.1%}  (load {os.getloadavg()[0]:.1f})")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--keep", type=Path, help="work in this folder and keep it")
    p.add_argument("--only", help="comma-separated clip names")
    p.add_argument("--models", type=Path, help="a file of `name=model file` lines: the per-model table (REAL clips)")
    p.add_argument("--skip-default-table", action="store_true", help="with --models: only the per-model table")
    p.add_argument("--per-frame-only", action="store_true", help="with --models: no stabilized pass (tuning)")
    args, extra = p.parse_known_args()  # the rest goes to `translate` (e.g. --crf 23)
    run: Callable[[Path], None]

    def run(work: Path) -> None:
        paths = make_clips(work, args.frames, real_only=bool(args.models) and args.skip_default_table)
        if args.only:
            keep = set(args.only.split(","))
            for name in [n for n in paths if n not in keep]:
                paths.pop(name).unlink()
        if args.models:
            lines = [line.partition("=") for line in args.models.read_text().splitlines() if line.strip()]
            models = {name.strip(): Path(path.strip()) for name, _, path in lines}
            rows = model_flicker(work, paths, models, stabilized=not args.per_frame_only)
            (work / "models.json").write_text(json.dumps({"|".join(k): v for k, v in rows.items()}, indent=1))
            report_models(rows)
        if not args.skip_default_table:
            report(quality(work, paths, extra))
        if not args.skip_speed and not args.skip_default_table:
            cost(work, args.repeats, args.frames)

    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        run(args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp))


if __name__ == "__main__":
    main()
