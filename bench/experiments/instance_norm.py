"""Instance norm on channels-last CPU tensors: precision against float64, and the generator's speed.

    python -m bench.experiments.instance_norm     # paper generator, 320x180, the engine's precision here
    python -m bench.experiments.instance_norm --precision bf16 --rounds 3

Three ways to run the generator's norms, measured in alternating rounds of the same run:
- stock: torch's instance norm (copies channels-last tensors to NCHW and back);
- one-pass group norm: group norm with one group per channel, as shipped before the precision fix;
- ours: `nets.channels_last_instance_norm` (one-pass statistics, a second pass where they would cancel).
The precision table normalizes random channels of mean `ratio` x std and compares with float64.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from cyclegan_batch.device.precision import DTYPES, resolve_precision
from cyclegan_batch.models import nets

Norm = Callable[[torch.Tensor, float], torch.Tensor]
NORMS: dict[str, Norm] = {
    "stock": lambda x, eps: F.instance_norm(x, eps=eps),
    "one-pass group norm": lambda x, eps: F.group_norm(x, x.shape[1], eps=eps),
    "ours": nets.channels_last_instance_norm,
}


def float64_reference(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    x = x.double()
    mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def precision_table(ratios: tuple[float, ...] = (1, 10, 100, 1000)) -> None:
    print("max |error| vs float64, 2x64x45x80 channels-last (bf16: against float64 of the bf16 input)")
    print(f"{'mean/std':>9} " + " ".join(f"{name + ' ' + dt:>26}" for name in NORMS for dt in ("fp32", "bf16")))
    generator = torch.Generator().manual_seed(0)
    for ratio in ratios:
        x = (torch.randn(2, 64, 45, 80, generator=generator) + ratio).contiguous(memory_format=torch.channels_last)
        cells = []
        for norm in NORMS.values():
            for inputs in (x, x.bfloat16()):
                cells.append(f"{(norm(inputs, 1e-5).double() - float64_reference(inputs)).abs().max().item():26.2e}")
        print(f"{ratio:9g} " + " ".join(cells))


@contextmanager
def norms_computed_by(norm: Norm) -> Iterator[None]:
    original = nets.channels_last_instance_norm
    nets.channels_last_instance_norm = norm
    try:
        yield
    finally:
        nets.channels_last_instance_norm = original


def generator_speed(height: int, width: int, rounds: int, calls: int, precision: str) -> None:
    dtype = DTYPES[resolve_precision(precision, torch.device("cpu"))]  # type: ignore[arg-type]
    generator = nets.ResnetGenerator().eval().to(dtype, memory_format=torch.channels_last)
    nets.init_weights(generator)
    x = torch.rand(1, 3, height, width).mul(2).sub(1).to(dtype).contiguous(memory_format=torch.channels_last)
    seconds: dict[str, list[float]] = {name: [] for name in NORMS}
    with torch.no_grad():
        for _ in range(rounds):
            for name, norm in NORMS.items():
                with norms_computed_by(norm):
                    generator(x)  # warm-up of this variant's kernels
                    start = time.perf_counter()
                    for _ in range(calls):
                        generator(x)
                    seconds[name].append((time.perf_counter() - start) / calls)
    ms = {name: statistics.median(values) * 1e3 for name, values in seconds.items()}
    threads = torch.get_num_threads()
    print(f"paper generator, 1x3x{height}x{width} {dtype} channels-last, {threads} threads, median ms/frame")
    for name, value in ms.items():
        print(f"  {name:22} {value:8.1f} ms   {ms['stock'] / value:5.2f}x stock")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="320x180", help="WxH of the frame")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=5, help="generator calls per variant and round")
    parser.add_argument("--precision", default="auto", help="auto (the engine's choice here), fp32 or bf16")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    precision_table()
    generator_speed(height, width, args.rounds, args.calls, args.precision)


if __name__ == "__main__":
    main()
