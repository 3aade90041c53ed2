"""Training steps/s of cyclegan-batch's trainer against a plain baseline, same device, same run.

Baseline: the same math written plainly - fp32, eager, batch 1, contiguous tensors, default Adam.
Trainer: `Trainer.train_step` with its defaults (precision auto, channels_last on CUDA, fused Adam),
at each of --batch-sizes, also torch.compile'd with --compile, and with --capture the step replayed as one
CUDA graph (train/capture.py; on a CPU its capture-ready form, eager).
Rounds alternate between all variants so that background load hits them alike; medians are reported.

    python -m bench.train_step                # 128x128, the paper's networks (ngf=ndf=64, 9 blocks)
    python -m bench.train_step --size 64 --rounds 3 --steps 3
    python -m bench.train_step --size 256 --batch-sizes 1,4 --compile   # on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cyclegan_batch.device.precision import pick_device
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer
from cyclegan_batch.train.step import ImagePool, build_networks


def plain_step_fn(cfg, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The paper's step with nothing clever: the baseline."""
    nets = build_networks(cfg, seed=0)
    g, f, d_a, d_b = (m.to(device) for m in (nets.a_to_b, nets.b_to_a, nets.d_a, nets.d_b))
    opt_g = torch.optim.Adam([*g.parameters(), *f.parameters()], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    pool_a, pool_b = ImagePool(cfg.pool_size, 1), ImagePool(cfg.pool_size, 2)

    def mse(pred: torch.Tensor, value: float) -> torch.Tensor:
        return F.mse_loss(pred, torch.full_like(pred, value))

    def step(a: torch.Tensor, b: torch.Tensor) -> None:
        d_a.requires_grad_(False)
        d_b.requires_grad_(False)
        fake_b, fake_a = g(a), f(b)
        loss = (
            mse(d_b(fake_b), 1)
            + mse(d_a(fake_a), 1)
            + 10 * (F.l1_loss(f(fake_b), a) + F.l1_loss(g(fake_a), b))
            + 5 * (F.l1_loss(g(b), b) + F.l1_loss(f(a), a))
        )
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        d_a.requires_grad_(True)
        d_b.requires_grad_(True)
        pa, pb = pool_a.query(fake_a.detach()), pool_b.query(fake_b.detach())
        loss_d = 0.5 * (mse(d_a(a), 1) + mse(d_a(pa), 0)) + 0.5 * (mse(d_b(b), 1) + mse(d_b(pb), 0))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

    return step


def trainer_step_fn(
    cfg, data: Path, device: str, compile: bool = False, capture: bool = False
) -> tuple[Callable[[torch.Tensor, torch.Tensor], None], Trainer]:
    model_dir = Path(tempfile.mkdtemp())
    trainer = Trainer(data, model_dir, cfg, device=device, workers=0, progress=False, compile=compile, capture=capture)

    def step(a: torch.Tensor, b: torch.Tensor) -> None:
        trainer.step.train_step(a, b)

    return step, trainer


def steps_per_second(step: Callable, a: torch.Tensor, b: torch.Tensor, steps: int) -> float:
    if a.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(a, b)
    if a.is_cuda:
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


class StepRate(NamedTuple):
    name: str
    batch: int
    precision: str
    steps_per_s: float  # median over the rounds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--steps", type=int, default=5, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch-sizes", default="1", help="the trainer's batch sizes, comma-separated (baseline: 1)")
    p.add_argument("--compile", action="store_true", help="also the trainer with torch.compile (slow warm-up)")
    p.add_argument("--capture", action="store_true", help="also the trainer with its step captured (CUDA graph)")
    p.add_argument("--device", default="auto")
    return p


def paper_config(args: argparse.Namespace, batch_size: int = 1):
    return build_config(
        "paper",
        dict(
            ngf=args.ngf,
            ndf=args.ngf,
            n_blocks=args.blocks,
            load_size=args.size,
            crop_size=args.size,
            batch_size=batch_size,
        ),
    )


def run(args: argparse.Namespace) -> list[StepRate]:
    """The plain baseline first, then the trainer at each batch size (and compiled), in alternating rounds."""
    device = pick_device(args.device)
    batch_sizes = [int(b) for b in str(args.batch_sizes).split(",")]
    variants: list[tuple[str, int, str, Callable]] = [("plain", 1, "fp32", plain_step_fn(paper_config(args), device))]
    with tempfile.TemporaryDirectory() as tmp:
        for domain in "AB":
            (Path(tmp) / domain).mkdir()
            for i in range(max(batch_sizes)):  # the trainer needs a dataset of at least one batch
                Image.fromarray(np.zeros((args.size, args.size, 3), np.uint8)).save(Path(tmp) / domain / f"{i}.png")
        modes = [(False, False), *([(True, False)] if args.compile else []), *([(False, True)] if args.capture else [])]
        for compile, capture in modes:
            for bs in batch_sizes:
                step, trainer = trainer_step_fn(paper_config(args, bs), Path(tmp), str(device), compile, capture)
                layout = "channels_last" if trainer.step.memory_format == torch.channels_last else "NCHW"
                how = ", compiled" if compile else ", captured" if capture else ""
                name = f"cyclegan-batch ({trainer.precision}, {layout}, fused Adam{how})"
                variants.append((name, bs, trainer.precision, step))
        inputs = {
            bs: tuple(torch.rand(bs, 3, args.size, args.size, device=device) * 2 - 1 for _ in "ab")
            for bs in {1, *batch_sizes}
        }
        for _, bs, _, fn in variants:  # warm-up: allocator, kernel selection, compilation, the graph's capture
            steps_per_second(fn, *inputs[bs], 5)
        rates: list[list[float]] = [[] for _ in variants]
        for _ in range(args.rounds):
            for (_, bs, _, fn), samples in zip(variants, rates, strict=True):
                samples.append(steps_per_second(fn, *inputs[bs], args.steps))
    return [
        StepRate(name, bs, precision, statistics.median(samples))
        for (name, bs, precision, _), samples in zip(variants, rates, strict=True)
    ]


def main() -> None:
    args = parser().parse_args()
    rates = run(args)
    device = pick_device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"train step, {args.size}x{args.size}, ngf={args.ngf}, {args.blocks} blocks, {name}, "
        f"{torch.get_num_threads()} threads, median of {args.rounds} rounds of {args.steps} steps"
    )
    base = rates[0].steps_per_s
    for r in rates:
        label = "plain (fp32, eager, default Adam)" if r.name == "plain" else r.name
        print(
            f"  {label:<58} batch {r.batch:>2}: {r.steps_per_s:7.3f} steps/s  {r.steps_per_s * r.batch:7.3f} images/s"
            f"  {r.steps_per_s * r.batch / base:5.2f}x images/s"
        )


if __name__ == "__main__":
    main()
