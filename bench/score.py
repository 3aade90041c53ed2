"""Images/s of `score`'s feature extraction (protocol clean) against scoring one image at a time, same run.

    .venv/bin/python -m bench.score                        # 32 demo crops of 128 px, 3 rounds
    .venv/bin/python -m bench.score --images 8 --rounds 1

Each round times, one after the other on the same PNG files (so load on a shared machine hits all alike):
- one at a time (baseline): decode, resize by the protocol and one network call per image;
- batched: `realism.features.file_features` as `score` runs it on GENERATED (decode threads, batches of 16);
- cached: the same files again as a REFERENCE whose features are in the cache (hash + read).
Also the largest relative change of the features under bf16 autocast against fp32 (the features stay fp32
when it is over 1e-2). Needs the metrics extra.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.timing import cpu_seconds
from cyclegan_batch.demo import PHOTOS, random_crops, skimage_photo
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.realism.features import file_features
from cyclegan_batch.realism.inception import InceptionFeatures, to_input

INCEPTION_FLOPS = 11_460_000_000  # 5.73 GMAC per 299x299 image (Szegedy et al. 2016), x2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.score", description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--size", type=int, default=128, help="side of the demo crops, pixels")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    return p


def run(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float], float]:
    """(images/s by method, CPU ms per image by method, max relative feature change in bf16)."""
    net = InceptionFeatures(args.device, batch_size=16)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CYCLEGAN_BATCH_CACHE"] = str(Path(tmp) / "cache")
        crops = random_crops([skimage_photo(n) for n in PHOTOS], args.images, args.size, np.random.default_rng(0))
        files = []
        for i, crop in enumerate(crops):
            files.append(Path(tmp) / f"{i:04d}.png")
            Image.fromarray(crop).save(files[-1])
        file_features(files, net, cache=True)  # warm-up, and fills the cache for the cached rows
        methods = {
            "one at a time (baseline)": lambda: [net(to_input(load_rgb(f))[None].astype(np.float32)) for f in files],
            "batched": lambda: file_features(files, net, cache=False),
            "cached reference": lambda: file_features(files, net, cache=True),
        }
        walls: dict[str, list[float]] = {m: [] for m in methods}
        cpus: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for name, method in methods.items():
                wall, cpu = time.perf_counter(), cpu_seconds()
                method()
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(cpu_seconds() - cpu)
        inputs = np.stack([to_input(c) for c in crops[:8]]).astype(np.float32)
    fp32 = net(inputs)
    with torch.autocast("cpu" if net.device.type == "cpu" else "cuda", dtype=torch.bfloat16):
        bf16 = net(inputs)
    change = float((np.linalg.norm(bf16 - fp32, axis=1) / np.linalg.norm(fp32, axis=1)).max())
    rates = {m: len(files) / statistics.median(w) for m, w in walls.items()}
    cpu_ms = {m: 1000 * statistics.median(c) / len(files) for m, c in cpus.items()}
    return rates, cpu_ms, change


def main() -> None:
    args = parser().parse_args()
    rates, cpu_ms, change = run(args)
    base = rates["one at a time (baseline)"]
    print(
        f"# protocol clean, {args.images} PNG crops of {args.size} px, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, rate in rates.items():
        print(f"{name}: {rate:.2f} images/s ({rate / base:.2f}x), {cpu_ms[name]:.0f} CPU ms/image")
    print(f"bf16 autocast: features change by up to {change:.2e} relative to fp32")


if __name__ == "__main__":
    main()
