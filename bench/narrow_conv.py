"""The generator's output layer split by rows (models/narrow_conv.py) against the plain layer, same run.

    python -m bench.narrow_conv                  # paper generator, 256x256, fp32 and bf16, 5 rounds
    python -m bench.narrow_conv --size 512 --rounds 3

For each precision, `Translator` with `split_narrow=False` (the plain 7x7 convolution to 3 channels) and
with the default (`split_narrow=True`) translate the same frame in alternating rounds: frames/s (medians),
their ratio, the output layer alone in ms, and the largest difference between the two outputs in grey levels.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from bench.cpu_precision import PRECISIONS, cpu_model, rate
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator


def output_layer_ms(translator: Translator, size: int, repeats: int = 5) -> float:
    """Median ms of the generator's last convolution alone, on its real input shape."""
    layer = translator.forward.model[-2]
    x = torch.randn(1, 64, size + 6, size + 6).to(translator.dtype, memory_format=translator.memory_format)
    with torch.inference_mode():
        layer(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            layer(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args()
    print(f"# {cpu_model()}; {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"# load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    torch.manual_seed(0)
    spec = GeneratorSpec()
    model = Generators(ResnetGenerator(spec), None, ModelInfo(spec))
    frame = np.random.default_rng(0).integers(0, 256, (1, args.size, args.size, 3), dtype=np.uint8)
    print(f"\n| paper generator, {args.size}^2, median of {args.rounds} | plain frames/s | split frames/s | ratio "
          "| output layer ms, plain -> split | largest difference (grey levels) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for precision in PRECISIONS:
        plain, split = (
            Translator(model, device="cpu", precision=precision, cycle=False, split_narrow=s) for s in (False, True)
        )
        outputs = [t.translate(frame).outputs.astype(int) for t in (plain, split)]  # also the warm-up
        rates: dict[str, list[float]] = {"plain": [], "split": []}
        for _ in range(args.rounds):
            for name, translator in (("plain", plain), ("split", split)):
                rates[name].append(rate(lambda t=translator: t.translate(frame), 1, 1))
        a, b = (statistics.median(rates[k]) for k in ("plain", "split"))
        layers = f"{output_layer_ms(plain, args.size):.1f} -> {output_layer_ms(split, args.size):.1f}"
        diff = int(np.abs(outputs[0] - outputs[1]).max())
        print(f"| {precision} | {a:.3f} | {b:.3f} | **{b / a:.3f}x** | {layers} | {diff} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
