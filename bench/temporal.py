"""Temporal stabilization, measured with a flow the stabilizer does not use (Farneback; it uses DIS).

    .venv/bin/python -m bench.temporal                  # demo videos + the bench's clips, 40 frames each
    .venv/bin/python -m bench.temporal --frames 24      # a quicker look
    .venv/bin/python -m bench.temporal --skip-speed     # quality and seams only
    python3 -m bench.temporal --speed-only --device cuda --speed-size 1280x720   # on a GPU

Per clip, with the bundled model: the per-frame translation once, then the stabilizer over it (the same
`Stabilizer` the pipeline runs). Printed: warp_in / warp_out (Farneback warping error of input and output),
% of the added flicker (warp_out - warp_in) removed, mean PSNR(stabilized, per-frame) over the frames that
were blended (reset frames are equal), PSNR at the first frame after the cut, and static's warp_out / warp_in.
Seams: a demo video split into 1 s segments, each translated as its own job and joined, warmed up on the
frames before each segment (`--context-from`) and cold: added flicker at the join frames / elsewhere.
Speed, in the same run on one 320x180 clip: the stabilizer's time per frame (flow included) against the
model's, and end-to-end frames/s of `translate_video` with and without --temporal (medians of --repeats).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from bench.temporal_clips import CLIPS, write_clip
from cyclegan_batch.demo import build_demo
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.mux import split
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import rgb_frames
from cyclegan_batch.metrics import psnr
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.translate.verb import default_model
from cyclegan_batch.util.threads import opencv_sequential
from cyclegan_batch.video.flow import FlowEstimator
from cyclegan_batch.video.frames import frame_ops
from cyclegan_batch.video.pipeline import join_video, translate_video
from cyclegan_batch.video.segments import write_index
from cyclegan_batch.video.stabilize import DEFAULT_STRENGTH

FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)  # pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags


def farneback_errors(inputs: np.ndarray, outputs: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-frame (from frame 1) warping error of inputs and outputs along Farneback flow of the inputs,
    over forward-backward consistent pixels (the same definition as cyclegan_batch/video/flow.py)."""
    h, w = inputs.shape[1:3]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warp_in, warp_out = [], []
    for t in range(1, len(inputs)):
        prev, cur = (cv2.cvtColor(inputs[i], cv2.COLOR_RGB2GRAY) for i in (t - 1, t))
        back = cv2.calcOpticalFlowFarneback(cur, prev, None, *FARNEBACK)
        fwd = cv2.calcOpticalFlowFarneback(prev, cur, None, *FARNEBACK)
        mx, my = xs + back[..., 0], ys + back[..., 1]
        there = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        loop = back + there
        ok = (loop**2).sum(-1) < 0.01 * ((back**2).sum(-1) + (there**2).sum(-1)) + 0.5
        ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        warp_in.append(_error(inputs[t - 1], inputs[t], (mx, my), ok))
        warp_out.append(_error(outputs[t - 1], outputs[t], (mx, my), ok))
    return warp_in, warp_out


def _error(previous: np.ndarray, current: np.ndarray, maps: tuple[np.ndarray, np.ndarray], ok: np.ndarray) -> float:
    warped = cv2.remap(previous, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(current.astype(np.float32) - warped.astype(np.float32)).mean(-1)
    return float(diff[ok].mean() / 255.0) if ok.any() else 0.0


def stabilize(
    inputs: np.ndarray, outputs: np.ndarray, strength: float = DEFAULT_STRENGTH, device: str = "cpu"
) -> tuple[np.ndarray, list]:
    """The pipeline's stabilizer over in-memory frames: (stabilized frames, which were resets)."""
    flow, ops = FlowEstimator(), frame_ops(torch.device(device))
    stabilizer = ops.stabilizer(strength)
    ins, outs = (ops.frames(torch.from_numpy(x).permute(0, 3, 1, 2).to(device)) for x in (inputs, outputs))
    frames, resets = [], []
    for t in range(len(inputs)):
        flows = flow.flows(ops.grey(ins[t - 1]), ops.grey(ins[t])) if t else None
        warp = None if flows is None else ops.warp(flows)
        result = stabilizer.step(warp, ins[t - 1] if t else None, ins[t], outs[t])
        frames.append(ops.image(result.frame))
        resets.append(result.reset)
    return np.stack(frames), resets


def decode(path: Path, frames: int) -> np.ndarray:
    reader = FrameReader(path, probe(path), max_frames=frames, planes=False)
    try:
        return np.stack([f.copy() for f in rgb_frames(reader)])
    finally:
        reader.close()


def translate_all(translator: Translator, inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([translator.translate(inputs[i : i + 1]).outputs for i in range(len(inputs))])


def quality(name: str, inputs: np.ndarray, outputs: np.ndarray, strength: float) -> dict[str, float]:
    stabilized, resets = stabilize(inputs, outputs, strength)
    cut = [t for t, r in enumerate(resets) if r and t > 0]
    keep = [t - 1 for t in range(1, len(inputs)) if t not in cut]  # the frame after a cut is no motion
    w_in, w_out = farneback_errors(inputs, outputs)
    _, w_st = farneback_errors(inputs, stabilized)
    mean_in, mean_out, mean_st = (float(np.mean([v[i] for i in keep])) for v in (w_in, w_out, w_st))
    blended = [psnr(stabilized[t], outputs[t]) for t in range(len(inputs)) if not resets[t]]
    row = {
        "warp_in": mean_in,
        "warp_out": mean_out,
        "warp_stab": mean_st,
        "removed": (mean_out - mean_st) / (mean_out - mean_in) if mean_out > mean_in else float("nan"),
        "fidelity": float(np.mean(blended)) if blended else float("inf"),
        "resets": float(sum(resets)),
    }
    if cut:
        row["cut_psnr"] = psnr(stabilized[cut[0]], outputs[cut[0]])
    return row


def speed(translator: Translator, clip: Path, frames: np.ndarray, strength: float, repeats: int) -> None:
    """Stabilizer (flow + blend) vs model per frame, and end-to-end fps with and without it, same run."""
    outputs = translate_all(translator, frames[:4])
    model_ms, stab_ms = [], []
    with opencv_sequential():
        for _ in range(repeats):
            start = time.perf_counter()
            translate_all(translator, frames[:4])
            model_ms.append((time.perf_counter() - start) / 4 * 1000)
            start = time.perf_counter()
            stabilize(np.repeat(frames[:4], 3, axis=0), np.repeat(outputs, 3, axis=0), strength, translator.device.type)
            stab_ms.append((time.perf_counter() - start) / 12 * 1000)
    model, stab = statistics.median(model_ms), statistics.median(stab_ms)
    size = f"{frames.shape[2]}x{frames.shape[1]}"
    print(
        f"\n{size} on {translator.device}: model {model:.1f} ms/frame, "
        f"stabilizer (flow + blend) {stab:.1f} ms/frame = {stab / model:.1%}"
    )
    fps: dict[str, list[float]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for mode, temporal in (("off", None), ("on", strength)):
                start = time.perf_counter()
                result = translate_video(translator, clip, Path(tmp) / f"{mode}.mp4", overwrite=True, temporal=temporal)
                fps[mode].append(result.frames / (time.perf_counter() - start))
    off, on = statistics.median(fps["off"]), statistics.median(fps["on"])
    print(f"end to end (cycle metrics on): {off:.2f} fps per-frame, {on:.2f} fps stabilized: {1 - on / off:+.1%} drop")
    print("(the pipeline computes the input flow for its warping metric anyway; stabilizing shares it)")


def seams(translator: Translator, video: Path, work: Path, strength: float) -> None:
    """Split `video` at its keyframes (1 s), translate each segment as its own job (warmed up on the frames
    before it, and cold), join, and compare the added flicker at the join frames with the mean elsewhere."""
    segments = split(video, work / "segments", 1.0)
    write_index(segments, work / "segments")
    inputs = decode(video, 10**6)
    starts = np.cumsum([0] + [probe(s).frames for s in segments])[1:-1]
    for mode in ("warm", "cold"):
        for segment in segments:
            context_from = video if mode == "warm" else None
            dst = work / mode / segment.name
            translate_video(translator, segment, dst, temporal=strength, context_from=context_from)
        join_video(work / mode, video, work / f"{mode}.mp4")
        w_in, w_out = farneback_errors(inputs, decode(work / f"{mode}.mp4", 10**6))
        added = np.array(w_out) - np.array(w_in)  # added[t - 1] is frame t's
        at = added[starts - 1]
        rest = np.delete(added, starts - 1)
        print(
            f"{video.stem} {mode}: added flicker at the {len(at)} joins {at.mean():.4f}, elsewhere {rest.mean():.4f}"
            f" = {at.mean() / rest.mean():.2f}x"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--strength", type=float, default=DEFAULT_STRENGTH)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--speed-only", action="store_true", help="only the cost part (e.g. on a GPU)")
    p.add_argument("--speed-size", default="320x180", help="WxH of the clip the cost part uses")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (the stabilizer runs where the model does)")
    args = p.parse_args()
    translator = Translator.from_file(default_model(), device=args.device, cycle=False)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_demo(work / "demo", n_train=1, n_heldout=1)
        clips = {v.stem: v for v in sorted((work / "demo" / "videos").glob("*.mp4"))}
        clips |= {name: write_clip(make(args.frames), work / f"{name}.mp4") for name, make in CLIPS.items()}
        size = tuple(int(v) for v in args.speed_size.split("x"))
        speed_frames = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in CLIPS["pan"](args.frames)]
        speed_clip = write_clip(speed_frames, work / "speed.mp4")
        if args.speed_only:
            speed(translator, speed_clip, decode(speed_clip, args.frames), args.strength, args.repeats)
            return
        print(f"{'clip':14s} {'warp_in':>8s} {'warp_out':>8s} {'stab':>8s} {'removed':>8s} {'fid dB':>7s} cut dB")
        for name, path in clips.items():
            inputs = decode(path, args.frames)
            q = quality(name, inputs, translate_all(translator, inputs), args.strength)
            extra = f" {q['cut_psnr']:.1f}" if "cut_psnr" in q else ""
            if name == "static":
                extra = f" stab/in {q['warp_stab'] / q['warp_in']:.2f}, out/in {q['warp_out'] / q['warp_in']:.2f}"
            print(
                f"{name:14s} {q['warp_in']:8.4f} {q['warp_out']:8.4f} {q['warp_stab']:8.4f} {q['removed']:8.0%} "
                f"{q['fidelity']:7.1f}{extra}",
                flush=True,
            )
        seams(translator, clips["astronaut_pan"], work / "seams", args.strength)
        if not args.skip_speed:
            speed(translator, speed_clip, decode(speed_clip, args.frames), args.strength, args.repeats)


if __name__ == "__main__":
    main()
