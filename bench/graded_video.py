"""A pointwise model's video without the cycle: graded inside ffmpeg (lut3d) against the general path, same run.

    python -m bench.graded_video                          # 48 frames of 1280x720, 3 repeats
    python -m bench.graded_video --size 1280x720 --frames 24 --repeats 5

The clip is a camera move over a photo from the scikit-image wheel (as the demo's videos are), H.264 4:2:0;
the model a `grade` preset generator (ngf 64, 2 pointwise blocks) with a strong random grade (speed does not
depend on training) in the default precision. Timed, alternating, each `--repeats` times (medians):
- general: `translate_video` through the model (`in_ffmpeg=False`): decode, G in batches, the warping
  metrics, encode; a pointwise model is no longer stabilized, so this is the general path's cheapest form;
- lut3d: the default for this model without the cycle (video/graded.py): decode + lut3d + encode with no
  model and no metrics; the LUT is fitted once per model, in the first run (the ratio is given for the median
  and for that first run);
- general, cycle on: G and F for the per-frame cycle metrics, the path a pointwise model takes with the cycle.
Then the ratio general / lut3d, and how far each encoded file and the frames handed to the encoder lie
from the model's own frames (grey levels, 99.9th percentile).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench.cpu_precision import cpu_model
from bench.timing import cpu_seconds
from cyclegan_batch.demo import DemoVideo, camera_move, skimage_photo
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.ffmpeg import ffmpeg_exe
from cyclegan_batch.media.probe import probe
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import build_generator, init_weights
from cyclegan_batch.train.config import build_config
from cyclegan_batch.video.graded import GradeLut
from cyclegan_batch.video.pipeline import translate_video


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    video = DemoVideo("pan", "astronaut.png", width, height, "24", frames / 24, audio=False)
    pictures = np.stack(camera_move(skimage_photo(video.photo), video, frames))
    args = ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "24"]
    args += ["-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-y", str(path)]
    subprocess.run([ffmpeg_exe(), *args], input=pictures.tobytes(), check=True)
    return path


def grade_model() -> Generators:
    """Two `grade` preset generators with a strong random grade (the output layer's weights made larger)."""
    spec = build_config("grade").generator
    torch.manual_seed(0)
    nets = [build_generator(spec) for _ in range(2)]
    for net in nets:
        init_weights(net)
        with torch.no_grad():
            torch.nn.init.normal_(net.output_conv.weight, 0.0, 0.05)
    return Generators(nets[0], nets[1], ModelInfo(spec, domains=("photo", "graded")))


def decoded(path: Path, rgb_filter: str | None = None) -> np.ndarray:
    info = probe(path)
    reader = FrameReader(path, info, planes=False, rgb_filter=rgb_filter)  # RGB24, as on a CPU
    try:
        return np.stack(list(reader)).reshape(-1, info.height, info.width, 3).astype(int)
    finally:
        reader.close()


def decoded_and_graded(translator: Translator, clip: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clip's decoded frames, the model's translation of them, and ffmpeg's lut3d grade of the same decode."""
    source = decoded(clip)
    model_frames = translator.translate(source.astype(np.uint8)).outputs.astype(int)
    lut = GradeLut(translator.pointwise_net)
    try:
        return source, model_frames, decoded(clip, lut.filter)
    finally:
        lut.close()


def p999(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.percentile(np.abs(a - b), 99.9))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT of the clip")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    width, height = map(int, args.size.split("x"))
    model = grade_model()
    plain = Translator(model, cycle=False)
    cycled = Translator(model)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", width, height, args.frames)
        out = Path(tmp) / "out"
        runs: dict[str, Callable[[], object]] = {
            "general": lambda: translate_video(plain, clip, out / "general.mp4", overwrite=True, in_ffmpeg=False),
            "lut3d": lambda: translate_video(plain, clip, out / "lut3d.mp4", overwrite=True),
            "general, cycle on": lambda: translate_video(cycled, clip, out / "cycled.mp4", overwrite=True),
        }
        load_before = os.getloadavg()[0]
        walls: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start, start_cpu = time.perf_counter(), cpu_seconds()
                run()
                walls[name].append(time.perf_counter() - start)
                cpus[name].append(cpu_seconds() - start_cpu)
        load_after = os.getloadavg()[0]
        source, model_frames, lut_frames = decoded_and_graded(plain, clip)
        general_file, lut_file = decoded(out / "general.mp4"), decoded(out / "lut3d.mp4")
    print(f"# graded_video: {args.frames} frames of {args.size}, {args.repeats} repeats, {cpu_model()}, "
          f"{os.cpu_count()} cores, precision {plain.precision}, load {load_before:.1f}-{load_after:.1f}")  # fmt: skip
    print("\n| path | wall s (median) | each run | CPU s (median) | frames/s |")
    print("|---|---:|---|---:|---:|")
    for name in runs:
        wall = statistics.median(walls[name])
        each = ", ".join(f"{w:.2f}" for w in walls[name])
        cpu = statistics.median(cpus[name])
        print(f"| {name} | {wall:.2f} | {each} | {cpu:.2f} | {args.frames / wall:.1f} |")
    ratio = statistics.median(walls["general"]) / statistics.median(walls["lut3d"])
    cpu_ratio = statistics.median(cpus["general"]) / statistics.median(cpus["lut3d"])
    first = statistics.median(walls["general"]) / walls["lut3d"][0]
    print(f"\nlut3d against general: {ratio:.1f}x faster (wall; {first:.1f}x for the first run, which fits the LUT), "
          f"{cpu_ratio:.1f}x less CPU time")  # fmt: skip
    print(f"grade: mean change {np.abs(model_frames - source).mean():.1f} grey levels")
    print(f"99.9th percentile, grey levels: frames to the encoder lut3d vs model {p999(lut_frames, model_frames):.0f}; "
          f"encoded file vs the model's frames: general {p999(general_file, model_frames):.0f}, "
          f"lut3d {p999(lut_file, model_frames):.0f}; the two files {p999(lut_file, general_file):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
