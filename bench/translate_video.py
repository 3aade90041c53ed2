"""Frames/s of video translation against the naive recipe, and the pipeline's efficiency, same run.

    .venv/bin/python -m bench.translate_video                          # 100 frames of 320x180, 1 repeat
    .venv/bin/python -m bench.translate_video --frames 24 --repeats 3  # a quicker look
    .venv/bin/python -m bench.translate_video --size 1280x720          # on a GPU

The model is the paper's generator (ngf 64, 9 residual blocks, random weights: speed does not depend
on training) in the default precision (`auto`). Measured on one synthetic clip (testsrc + sine audio):
- naive: what people do by hand - ffmpeg to PNG files, translate one PNG at a time in fp32, write PNGs,
  ffmpeg back to H.264 (no audio, no metrics).
- ours --no-cycle: `translate_video` doing the same work as naive (G only), audio kept, warping metrics.
- ours (default): also F(G(x)) for the per-frame cycle metrics - twice the network work.
- model only: `Translator.translate` on the decoded frames held in memory, same batch size, settings and
  concurrent calls (two at once with half the threads each on a CPU, as the pipeline does);
  end-to-end / model-only is the pipeline efficiency (1.0 = decode, encode and metrics fully hidden).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.timing import batch_size_arg, median_seconds, model_only, print_comparison
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.ffmpeg import ffmpeg_exe
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import rgb_frames
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.video.pipeline import translate_video


def make_clip(path: Path, frames: int, size: str) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-f", "lavfi", "-i", "sine=frequency=440"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args, str(path)], check=True)
    return path


def naive_recipe(generator: torch.nn.Module, src: Path, work: Path) -> None:
    """ffmpeg -> PNGs -> one image at a time through G in fp32 -> PNGs -> ffmpeg."""
    frames_in, frames_out = work / "in", work / "out"
    frames_in.mkdir(parents=True)
    frames_out.mkdir()
    ffmpeg = ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-i", str(src), str(frames_in / "%06d.png")], check=True)
    device = next(generator.parameters()).device
    with torch.inference_mode():
        for png in sorted(frames_in.glob("*.png")):
            x = torch.from_numpy(np.array(Image.open(png).convert("RGB"))).permute(2, 0, 1)[None]
            y = generator(x.to(device).float() / 127.5 - 1.0)[0]
            out = ((y.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).byte().cpu().numpy()
            Image.fromarray(out).save(frames_out / png.name)
    encode = ["-framerate", "25", "-i", str(frames_out / "%06d.png"), "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    subprocess.run([ffmpeg, "-v", "error", *encode, str(work / "naive.mp4")], check=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", default="320x180", help="WxH of the synthetic clip")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto", help="auto: the tool's default")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-naive", action="store_true", help="only ours vs model-only (e.g. big sizes)")
    return p


def run(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float], str, torch.device, int]:
    """Frames/s and CPU ms/frame of every variant by name, the precision, the device and the frame count."""
    torch.manual_seed(0)
    model = Generators(ResnetGenerator(GeneratorSpec()), ResnetGenerator(GeneratorSpec()), ModelInfo(GeneratorSpec()))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = make_clip(work / "clip.mp4", args.frames, args.size)
        reader = FrameReader(src, probe(src), planes=False)
        frames = np.stack(list(rgb_frames(reader)))
        reader.close()
        n = len(frames)
        results: dict[str, float] = {}
        cpu: dict[str, float] = {}

        def measure(name: str, run: Callable[[], object]) -> None:
            wall, cpu_s = median_seconds(run, args.repeats)
            results[name], cpu[name] = n / wall, 1000 * cpu_s / n

        for cycle in (False, True):
            translator = Translator(model, device=args.device, cycle=cycle)
            # Resolved (auto -> a number) so that every variant and the report use the same batch.
            args.batch_size = translator.batch_size_for(frames.shape[1], frames.shape[2], args.batch_size)
            model_only(translator, frames[: 2 * args.batch_size], args.batch_size, True)  # warm-up (oneDNN plans)
            suffix = "" if cycle else " --no-cycle"
            measure(f"model only{suffix}", lambda t=translator: model_only(t, frames, args.batch_size, True))
            measure(
                f"ours{suffix}",
                lambda t=translator, c=cycle: translate_video(
                    t, src, work / f"out_{c}.mp4", batch_size=args.batch_size, overwrite=True, flicker=c
                ),
            )
        precision = translator.precision
        if not args.skip_naive:
            naive_net = model.a_to_b.to(translator.device, memory_format=torch.contiguous_format)  # plain NCHW
            runs = iter(range(args.repeats))
            measure("naive", lambda: naive_recipe(naive_net, src, work / f"naive_{next(runs)}"))
    return results, cpu, precision, translator.device, n


def main() -> None:
    args = parser().parse_args()
    results, cpu, precision, device, n = run(args)
    print(
        f"{n} frames of {args.size}, paper generator, precision {precision} on {device}, "
        f"batch {args.batch_size}, median of {args.repeats}"
    )
    for name, fps in results.items():
        print(f"  {name:<24} {fps:8.2f} frames/s  {cpu[name]:8.0f} CPU ms/frame")
    print_comparison(results, cpu)


if __name__ == "__main__":
    main()
