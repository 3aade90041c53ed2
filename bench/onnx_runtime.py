"""Frames/s of onnxruntime on the exported generator against this project's engine, same run, same frames.

    .venv/bin/python -m bench.onnx_runtime                          # 256x256 and 320x180, 16 frames, 3 rounds
    .venv/bin/python -m bench.onnx_runtime --sizes 320x180 --frames 8 --rounds 1

The model is the paper's generator (ngf 64, 9 blocks, random weights: speed does not depend on training),
exported by `cyclegan-batch export` (onnx_export.py). Each round times, on the same uint8 frames in memory
and the same batch size (the engine's auto choice), one after the other so that load on a shared machine
hits both alike:
- engine: `Translator.translate` with `--no-cycle`, in the default precision (bf16 on an AMX CPU);
- engine fp32: the same in fp32, the like-for-like comparison with onnxruntime's fp32 graph;
- onnxruntime: CPUExecutionProvider with as many threads as torch uses, including the same uint8 ->
  [-1, 1] -> uint8 conversions in NumPy.
Needs the onnx extra (pip install '.[onnx]').
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

from bench.timing import cpu_seconds
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator, init_weights
from cyclegan_batch.models.onnx_export import INPUT, export_onnx


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.onnx_runtime", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="256x256,320x180", help="WIDTHxHEIGHT, comma-separated")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    return p


def onnx_runner(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(frames: np.ndarray) -> np.ndarray:
        x = frames.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
        y = session.run(None, {INPUT: x})[0]
        return np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)

    return run


def measure(run: Callable[[np.ndarray], object], frames: np.ndarray, batch: int) -> tuple[float, float]:
    """Frames/s by the wall clock, and CPU ms per frame (which other users' load on the machine moves less)."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    for i in range(0, len(frames), batch):
        run(frames[i : i + batch])
    return len(frames) / (time.perf_counter() - start), (cpu_seconds() - start_cpu) * 1e3 / len(frames)


def run(args: argparse.Namespace) -> list[dict]:
    """Per size: frames/s and CPU ms/frame of each runner (medians over rounds), the batch size, the precision."""
    spec = GeneratorSpec(ngf=args.ngf, n_blocks=args.blocks)
    torch.manual_seed(0)
    net = ResnetGenerator(spec)
    init_weights(net)
    model = Generators(net, None, ModelInfo(spec))
    engine = Translator(model, device="cpu", cycle=False)
    engine_fp32 = Translator(model, device="cpu", precision="fp32", cycle=False)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(model, Path(tmp) / "g.onnx")
        onnx = onnx_runner(Path(tmp) / "g.onnx", torch.get_num_threads())
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            frames = np.random.default_rng(0).integers(0, 256, (args.frames, height, width, 3), dtype=np.uint8)
            batch = engine.batch_size_for(height, width)
            runners = {f"engine {engine.precision}": engine.translate, "engine fp32": engine_fp32.translate}
            runners["onnxruntime fp32"] = onnx  # (one engine row where the default precision is fp32 already)
            for runner in runners.values():  # warm-up: first-call allocations and kernel choices
                runner(frames[:batch])
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
            for _ in range(args.rounds):
                for name, runner in runners.items():
                    samples[name].append(measure(runner, frames, batch))
            rates = {name: statistics.median(r for r, _ in s) for name, s in samples.items()}
            cpu_ms = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
            results.append(
                {"size": size, "batch": batch, "precision": engine.precision, "rates": rates, "cpu_ms": cpu_ms}
            )
            line = ", ".join(f"{name} {rates[name]:.2f} ({cpu_ms[name]:.0f} CPU ms)" for name in runners)
            print(f"{size} batch {batch}: frames/s {line}", flush=True)
    return results


def main() -> None:
    args = parser().parse_args()
    print(f"paper generator (ngf {args.ngf}, {args.blocks} blocks), CPU, {torch.get_num_threads()} threads")
    for result in run(args):
        rates, engine = result["rates"], f"engine {result['precision']}"
        cpu = result["cpu_ms"]
        for name in dict.fromkeys((engine, "engine fp32")):
            print(
                f"{result['size']}: onnxruntime / {name} = {rates['onnxruntime fp32'] / rates[name]:.2f}x wall, "
                f"{cpu[name] / cpu['onnxruntime fp32']:.2f}x CPU time"
            )


if __name__ == "__main__":
    main()
