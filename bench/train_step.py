"""Training steps/s of cyclegan-batch's trainer against a plain baseline, same device, same run.

Baseline: the same math written plainly - fp32, eager, batch 1, contiguous tensors, default Adam.
Trainer: `Trainer.train_step` with its defaults (precision auto, channels_last, fused Adam).
Rounds alternate between the two so that background load hits both alike; medians are reported.

    python -m bench.train_step                # 128x128, the paper's networks (ngf=ndf=64, 9 blocks)
    python -m bench.train_step --size 64 --rounds 3 --steps 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cyclegan_batch.config import build_config
from cyclegan_batch.train import ImagePool, Trainer, build_networks


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


def trainer_step_fn(cfg, data: Path, device: str) -> tuple[Callable[[torch.Tensor, torch.Tensor], None], str]:
    trainer = Trainer(data, Path(tempfile.mkdtemp()), cfg, device=device, workers=0, progress=False)

    def step(a: torch.Tensor, b: torch.Tensor) -> None:
        trainer.train_step(a, b)

    return step, trainer.precision


def steps_per_second(step: Callable, a: torch.Tensor, b: torch.Tensor, steps: int) -> float:
    if a.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(a, b)
    if a.is_cuda:
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    cfg = build_config(
        "paper", dict(ngf=args.ngf, ndf=args.ngf, n_blocks=args.blocks, load_size=args.size, crop_size=args.size)
    )
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    with tempfile.TemporaryDirectory() as tmp:
        for domain in "AB":
            (Path(tmp) / domain).mkdir()
            Image.fromarray(np.zeros((args.size, args.size, 3), np.uint8)).save(Path(tmp) / domain / "0.png")
        ours, precision = trainer_step_fn(cfg, Path(tmp), str(device))
        plain = plain_step_fn(cfg, device)
        a = torch.rand(1, 3, args.size, args.size, device=device) * 2 - 1
        b = torch.rand(1, 3, args.size, args.size, device=device) * 2 - 1
        for fn in (plain, ours):  # warm-up: allocator, oneDNN/cuDNN kernel selection
            steps_per_second(fn, a, b, 2)
        rates: dict[str, list[float]] = {"plain": [], "ours": []}
        for _ in range(args.rounds):
            rates["plain"].append(steps_per_second(plain, a, b, args.steps))
            rates["ours"].append(steps_per_second(ours, a, b, args.steps))
    base, fast = statistics.median(rates["plain"]), statistics.median(rates["ours"])
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"train step, {args.size}x{args.size}, ngf={args.ngf}, {args.blocks} blocks, batch 1, {name}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"  plain (fp32, eager, default Adam): {base:7.3f} steps/s  (median of {args.rounds})")
    print(f"  cyclegan-batch ({precision}, channels_last, fused Adam): {fast:7.3f} steps/s")
    print(f"  ratio: {fast / base:.2f}x")


if __name__ == "__main__":
    main()
