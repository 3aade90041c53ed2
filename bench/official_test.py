"""The official `test.py`'s work as a plain loop, and the whole-process ratio of `translate` against it.

junyanz/pytorch-CycleGAN-and-pix2pix is not installable offline here, so this file does what its
`test.py --model test --no_dropout --preprocess none` does, step for step: build the generator, load the
weights, then for each image one at a time: Pillow decode, ToTensor + Normalize(0.5, 0.5), the generator
in fp32 on a batch of 1, `tensor2im` ((y + 1) / 2 * 255, float to uint8) and `save_image` of the real and
the fake PNG (test.py saves both for its HTML page). The weights are the same model file's.

    python -m bench.official_test IN OUT --model M.safetensors    # the loop itself, as a process
    python -m bench.official_test --compare --images 16 --size 256   # both whole processes, interleaved

`--compare` runs, as separate processes with the same images and weights, alternating, medians:
this loop, and `cyclegan-batch translate IN OUT --model M --no-cycle` (precision auto, its defaults).
Both include Python start-up, imports and model loading: what a user waits for.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def bench_device(name: str) -> str:
    """`auto` as this bench means it: the first GPU if there is one (named by index, so no process claims it), else
    the CPU. Both sides run on the same device, as test.py does with its default --gpu_ids 0."""
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return name


def official_loop(images: Path, out: Path, model: Path, device: str) -> None:
    from cyclegan_batch.models.modelfile import load_generators

    net = load_generators(model).a_to_b.float().eval().to(device)  # test.py: define_G, load_state_dict, eval
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(images.glob("*.png")):
        img = Image.open(path).convert("RGB")
        x = torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1)  # ToTensor
        x = ((x - 0.5) / 0.5)[None].to(device)  # Normalize((0.5,)*3, (0.5,)*3), batch of 1
        with torch.no_grad():
            fake = net(x)
        for name, t in (("real", x), ("fake", fake)):  # tensor2im, then save_image of each visual
            pixels = (np.transpose(t[0].cpu().float().numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
            Image.fromarray(pixels.astype(np.uint8)).save(out / f"{path.stem}_{name}.png")


def whole_process_ratio(images: Path, model: Path, repeats: int, device: str) -> tuple[float, float]:
    """Median seconds of (this loop, `cyclegan-batch translate --no-cycle`), each a fresh process, alternating."""
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "official": [
                sys.executable,
                "-m",
                "bench.official_test",
                str(images),
                f"{tmp}/official",
                "--model",
                str(model),
                "--device",
                device,
            ],
            "ours": [
                sys.executable,
                "-m",
                "cyclegan_batch",
                "translate",
                str(images),
                f"{tmp}/ours",
                "--model",
                str(model),
                "--no-cycle",
                "--device",
                device,
                "--overwrite",
                "--quiet",
            ],  # fmt: skip
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, check=True)
                seconds[name].append(time.perf_counter() - start)
    return statistics.median(seconds["official"]), statistics.median(seconds["ours"])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="?", type=Path)
    p.add_argument("out", nargs="?", type=Path)
    p.add_argument("--model", type=Path)
    p.add_argument("--compare", action="store_true", help="time both whole processes on made-up images")
    p.add_argument("--images", type=int, default=16, dest="count")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto", help="auto (the first GPU if any, else cpu), cpu or cuda:N; both sides")
    return p


def compare(args: argparse.Namespace) -> tuple[float, float]:
    """Median seconds of (official loop, translate) on `args.count` made-up images with the paper's generator."""
    from bench.translate_images import make_images, paper_model_file

    with tempfile.TemporaryDirectory() as tmp:
        make_images(Path(tmp) / "in", args.count, args.size)
        device = bench_device(args.device)
        return whole_process_ratio(Path(tmp) / "in", paper_model_file(Path(tmp)), args.repeats, device)


def main() -> None:
    args = parser().parse_args()
    if not args.compare:
        official_loop(args.images, args.out, args.model, bench_device(args.device))
        return
    official, ours = compare(args)
    print(
        f"{args.count} images of {args.size}x{args.size}, paper generator, whole processes, median of {args.repeats}:"
    )
    print(f"official test.py loop (fp32, batch 1) {official:.1f} s, cyclegan-batch translate --no-cycle {ours:.1f} s")
    print(f"translate vs official test.py: {official / ours:.2f}x")


if __name__ == "__main__":
    main()
