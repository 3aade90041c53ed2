"""What the single-frame regularizer (`stability_weight`, train/stability.py) costs per training step.

The trainer's own step on a preset, with the regularizer off (the baseline, measured in the same run) and
on, in alternating rounds on the same inputs; medians. The regularizer adds one pass of each generator
(forward and backward) on the moved images.

    python -m bench.stability_cost                          # the demo preset at its 64-pixel crops
    python -m bench.stability_cost --preset demo --set crop_size=128 --set load_size=128 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.train_step import steps_per_second
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="demo")
    p.add_argument("--set", action="append", default=[], help="KEY=VALUE for both runs, as `train --set`")
    p.add_argument("--weight", type=float, default=1.0, help="stability_weight of the regularized run")
    p.add_argument("--steps", type=int, default=5, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    cfg = build_config(args.preset, settings=args.set)
    with tempfile.TemporaryDirectory() as tmp:
        for domain in "AB":
            (Path(tmp) / domain).mkdir()
            for i in range(cfg.batch_size):
                Image.fromarray(np.zeros((cfg.load_size,) * 2 + (3,), np.uint8)).save(Path(tmp) / domain / f"{i}.png")
        variants = {}
        for name, weight in (("off", 0.0), ("on", args.weight)):
            run_cfg = build_config(args.preset, settings=[*args.set, f"stability_weight={weight}"])
            variants[name] = Trainer(Path(tmp), Path(tmp) / name, run_cfg, device="cpu", workers=0, progress=False)
        a, b = (torch.rand(cfg.batch_size, 3, cfg.crop_size, cfg.crop_size) * 2 - 1 for _ in "ab")
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for trainer in variants.values():  # warm-up: allocator, oneDNN kernel selection
            steps_per_second(trainer.step.train_step, a, b, 2)
        for _ in range(args.rounds):
            for name, trainer in variants.items():
                rates[name].append(steps_per_second(trainer.step.train_step, a, b, args.steps))
        precision = variants["off"].precision
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(
        f"preset {args.preset} {' '.join(args.set)}: {cfg.crop_size}px crops, batch {cfg.batch_size}, {precision}, "
        f"{torch.get_num_threads()} threads, median of {args.rounds} rounds of {args.steps} steps, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"  off {off:.3f} steps/s, on {on:.3f} steps/s: {off / on - 1:+.1%} time per step")


if __name__ == "__main__":
    main()
