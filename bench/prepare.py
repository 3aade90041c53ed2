"""Images/s of `prepare` against a plain single-process Pillow loop doing the same conversion, same run.

    .venv/bin/python -m bench.prepare            # 500 synthetic 1024x768 JPEGs, 3 repeats
    .venv/bin/python -m bench.prepare --n 60     # a quick look

Both write 286-pixel-high PNGs with Pillow's default compression from the same files. `prepare` also
hashes every file, checks duplicates and writes the manifest; the baseline does only the conversion.
Each repeat starts from an empty output folder, so nothing is reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cyclegan_batch.prepare import Settings, prepare

LOAD_SIZE = 286


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` distinct photo-like 1024x768 JPEGs: smooth colour fields plus sensor-like noise."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((1024, 768), Image.Resampling.BICUBIC), dtype=np.int16)
        pixels = np.clip(smooth + rng.integers(-4, 5, smooth.shape), 0, 255).astype(np.uint8)
        path = folder / ("A" if i % 2 else "B") / f"photo_{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def plain_pillow_loop(paths: list[Path], out: Path) -> None:
    """The baseline: what a one-off script does, one file after another."""
    out.mkdir(parents=True)
    for path in paths:
        with Image.open(path) as img:
            rgb = ImageOps.exif_transpose(img).convert("RGB")
        scale = LOAD_SIZE / min(rgb.size)
        size = (round(rgb.width * scale), round(rgb.height * scale))
        rgb.resize(size, Image.Resampling.BOX).save(out / f"{path.parent.name}_{path.stem}.png")


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="number of synthetic JPEGs (default 500)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=0, help="prepare's worker processes (0 = all cores)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        root = Path(tmp)
        paths = make_photos(root / "raw", args.n)
        settings = Settings(test_fraction=0.1, jobs=args.jobs)
        plain, parallel = [], []
        for repeat in range(args.repeats):
            plain.append(args.n / timed(lambda r=repeat: plain_pillow_loop(paths, root / f"plain{r}")))
            out = root / f"prepare{repeat}"
            parallel.append(args.n / timed(lambda o=out: prepare(root / "raw" / "A", root / "raw" / "B", o, settings)))

    cores = len(os.sched_getaffinity(0))
    jobs = args.jobs or os.cpu_count()
    print(f"{args.n} JPEGs 1024x768 -> PNG with shorter side {LOAD_SIZE}, {args.repeats} repeats, {cores} cores")
    print(f"plain Pillow loop (1 process) : {statistics.median(plain):7.1f} images/s  (runs: {_fmt(plain)})")
    print(f"prepare --jobs {jobs:<14}: {statistics.median(parallel):7.1f} images/s  (runs: {_fmt(parallel)})")
    print(f"ratio prepare / plain         : {statistics.median(parallel) / statistics.median(plain):7.2f}x")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
