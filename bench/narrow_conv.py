"""The generator's output layer split by rows (models/narrow_conv.py) against the plain layer, same run.

    python -m bench.narrow_conv                  # paper generator, 256x256, fp32 and bf16, 5 rounds
    python -m bench.narrow_conv --size 512 --rounds 3
    python -m bench.narrow_conv --generator quick --size 720x1280   # a preset's generator, a 720p frame

For each precision, `Translator` with the plain 7x7 convolution to 3 channels and with it split by rows
(whatever the engine's rule of which layers to split) translate the same frame in alternating rounds:
frames/s (medians), their ratio, the output layer alone in ms, and the largest difference between the two
outputs in grey levels.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from bench.cpu_precision import PRECISIONS, cpu_model, rate
from bench.overhead import TINY
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.narrow_conv import split_narrow_convs
from cyclegan_batch.models.nets import ResnetGenerator, init_weights
from cyclegan_batch.train.config import build_config

# bench/overhead.py's tiny spatial generator, and the presets' own
GENERATORS = {"tiny": TINY, **{p: build_config(p).generator for p in ("paper", "demo", "quick")}}


def output_layer_ms(translator: Translator, height: int, width: int, repeats: int = 5) -> float:
    """Median ms of the generator's last convolution alone, on its real input shape."""
    layer = translator.forward.output_conv
    x = torch.randn(1, translator.info.spec.ngf, height + 6, width + 6).to(
        translator.dtype, memory_format=translator.memory_format
    )
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
    p.add_argument("--size", default="256", help="a side (256) or HEIGHTxWIDTH (720x1280)")
    p.add_argument("--generator", choices=GENERATORS, default="paper", help="whose generator (tiny: bench/overhead's)")
    args = p.parse_args()
    height, width = (int(v) for v in args.size.split("x")) if "x" in args.size else (int(args.size),) * 2
    print(f"# {cpu_model()}; {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"# load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    torch.manual_seed(0)
    spec = GENERATORS[args.generator]
    net = ResnetGenerator(spec)
    init_weights(net)
    torch.nn.init.normal_(net.output_conv.weight, 0.0, 0.02)  # a residual spec's starts at zero; a trained one not
    model = Generators(net, None, ModelInfo(spec))
    frame = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    columns = (
        "plain frames/s | split frames/s | ratio | output layer ms, plain -> split | largest difference (grey levels)"
    )
    print(f"\n| {args.generator} generator, {height}x{width}, median of {args.rounds} | {columns} |")
    print("|---|---:|---:|---:|---:|---:|")
    for precision in PRECISIONS:
        plain, split = (
            Translator(model, device="cpu", precision=precision, cycle=False, split_narrow=False) for _ in range(2)
        )
        split.forward = split_narrow_convs(split.forward, min_in_channels=1)  # whatever the engine's own rule says
        outputs = [t.translate(frame).outputs.astype(int) for t in (plain, split)]  # also the warm-up
        rates: dict[str, list[float]] = {"plain": [], "split": []}
        for _ in range(args.rounds):
            for name, translator in (("plain", plain), ("split", split)):
                rates[name].append(rate(lambda t=translator: t.translate(frame), 1, 1))
        a, b = (statistics.median(rates[k]) for k in ("plain", "split"))
        layers = f"{output_layer_ms(plain, height, width):.1f} -> {output_layer_ms(split, height, width):.1f}"
        diff = int(np.abs(outputs[0] - outputs[1]).max())
        print(f"| {precision} | {a:.3f} | {b:.3f} | **{b / a:.3f}x** | {layers} | {diff} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
