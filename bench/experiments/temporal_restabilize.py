"""Stabilize a `bench.temporal_encoded --keep DIR` run's per-frame frames as `translate` does and grade them.

    python -m bench.experiments.temporal_restabilize DIR OUT astronaut_pan,street

The per-frame frames (`--no-temporal --frames-dir`) go through the pipeline's Stabilizer (DIS flow of the
decoded input, default strength) and the encoder with translate's default settings, then through
bench.temporal_encoded's measure. Same figures as the CLI's stabilized pass without running the model again
(bench/RESULTS.md, "Video stabilization (encoded output)").
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from bench.temporal_encoded import decode, measure, pngs, report
from cyclegan_batch.media.encode import EncodeSettings, FrameWriter
from cyclegan_batch.media.probe import probe
from cyclegan_batch.video.flow import FlowEstimator
from cyclegan_batch.video.stabilize import DEFAULT_STRENGTH, Stabilizer


def restabilize(run: Path, out: Path, name: str) -> dict:
    clip = run / "clips" / f"{name}.mp4"
    src, per_frame = decode(clip), pngs(run / "per_frame_frames" / name)
    info = probe(clip)
    frames_dir = out / "stabilized_frames" / name
    frames_dir.mkdir(parents=True, exist_ok=True)
    (out / "stabilized").mkdir(exist_ok=True)
    video = out / "stabilized" / f"{name}.mp4"
    writer = FrameWriter(video, info.width, info.height, info.fps, EncodeSettings(), info.picture)
    flow, stabilizer = FlowEstimator(), Stabilizer(DEFAULT_STRENGTH)
    for t in range(min(len(src), len(per_frame))):
        warp = flow.warp(src[t - 1], src[t]) if t else None
        frame = stabilizer.step(warp, src[t - 1] if t else None, src[t], per_frame[t]).frame
        writer.write(frame)
        cv2.imwrite(str(frames_dir / f"{t:06d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.close()
    return measure(name, clip, run / "per_frame" / f"{name}.mp4", video, (run / "per_frame_frames" / name, frames_dir))


if __name__ == "__main__":
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    report({name: restabilize(run, out, name) for name in sys.argv[3].split(",")})
