"""Images/s of `prepare` against a plain single-process Pillow loop doing the same conversion, same run.

    .venv/bin/python -m bench.prepare            # 500 synthetic 1024x768 JPEGs, 3 repeats
    .venv/bin/python -m bench.prepare --n 60     # a quick look

Both write PNGs with the shorter side at 286 and Pillow's default compression from the same files.
`prepare` also hashes every file, checks duplicates and writes the manifest; the baseline only converts.
Each repeat starts from an empty output folder, so nothing is reused.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cyclegan_batch.prepare.run import Settings, prepare

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


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished worker processes)."""

    def cpu() -> float:
        own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime

    wall, cpu_start = time.perf_counter(), cpu()
    run()
    return time.perf_counter() - wall, cpu() - cpu_start


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
            plain.append(timed(lambda r=repeat: plain_pillow_loop(paths, root / f"plain{r}")))
            out = root / f"prepare{repeat}"
            parallel.append(timed(lambda o=out: prepare(root / "raw" / "A", root / "raw" / "B", o, settings)))

    jobs = args.jobs or os.cpu_count()
    print(f"{args.n} JPEGs 1024x768 -> PNG, shorter side {LOAD_SIZE}; {args.repeats} repeats; {os.cpu_count()} cores")
    plain_rate = report("plain Pillow loop (1 process)", plain, args.n)
    prepare_rate = report(f"prepare --jobs {jobs}", parallel, args.n)
    print(f"{'ratio prepare / plain':<30}: {prepare_rate / plain_rate:7.2f}x")


def report(name: str, runs: list[tuple[float, float]], n: int) -> float:
    """Print median images/s (and CPU ms per image, which other users' load does not inflate); return the rate."""
    rates = [n / wall for wall, _ in runs]
    cpu_ms = statistics.median(1000 * cpu / n for _, cpu in runs)
    runs_text = ", ".join(f"{r:.1f}" for r in rates)
    print(f"{name:<30}: {statistics.median(rates):7.1f} images/s (runs: {runs_text}); {cpu_ms:.1f} CPU ms/image")
    return statistics.median(rates)


if __name__ == "__main__":
    main()
