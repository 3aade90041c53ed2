"""Every benchmark in one command, one table: `python -m bench` (or `make bench`).

    python -m bench                   # full run: GPU sizes on CUDA, smaller ones on a CPU
    python -m bench --quick           # a smoke run of everything at toy sizes (a few minutes on a CPU)
    python -m bench --only train,video --device cuda
    python -m bench --compile         # also the trainer under torch.compile (minutes of compiling per shape)

Rows, each measured in this run with its own baseline (see each module's docstring):
- train (bench/train_step.py): the trainer's steps/s and images/s at batch 1 and above, against a plain
  fp32 eager batch-1 step of the same math, in alternating rounds; paper networks (ngf 64, 9 blocks).
- images (bench/translate_images.py) and video (bench/translate_video.py): images or frames/s of the
  `translate` verb end-to-end and of the model alone on decoded frames, against a naive recipe.
- onnx (bench/onnx_runtime.py): onnxruntime's CPU frames/s on the exported generator against this
  project's engine on the same frames (needs the onnx extra; CPU only, skipped on CUDA runs).
- official (bench/official_test.py): `cyclegan-batch translate --no-cycle` against the official test.py's
  work (an fp32 batch-1 loop; same weights, same images), both as whole processes: a ratio line.
- score (bench/score.py): images/s of `score`'s Inception features (protocol clean), batched and from the
  reference cache, against one image at a time (needs the metrics extra).
The compute floor: FLOPs per image or frame (torch's FLOP counter: convolutions, forward and backward)
over the device's peak matmul rate in the row's precision (bench/flops.py, measured first), so
"of peak" reads as the fraction of the hardware limit reached. On a shared CPU wall-clock figures are
noisy; the translation rows also give CPU ms per item, which other users' load does not move.
"""

from __future__ import annotations

import argparse
import datetime
import os
from dataclasses import dataclass

import torch

from bench import flops, official_test, onnx_runtime, score, train_step, translate_images, translate_video
from cyclegan_batch.device.precision import choose_precision, pick_device
from cyclegan_batch.models.nets import GeneratorSpec
from cyclegan_batch.realism import MetricsUnavailable

KINDS = ("train", "images", "video", "onnx", "official", "score")  # the rows, in the order they run

# Arguments of each benchmark's own command line, by device type and --quick.
PLANS: dict[tuple[str, bool], dict[str, list[list[str]]]] = {
    ("cuda", False): {
        "score": [["--images", "256", "--rounds", "3"]],
        "train": [["--size", "256", "--steps", "20", "--rounds", "5", "--batch-sizes", "1,4"]],
        "images": [["--images", "64", "--size", "256", "--batch-size", "16", "--repeats", "3"]],
        "video": [
            ["--frames", "100", "--size", "256x256", "--batch-size", "8"],
            ["--frames", "200", "--size", "1280x720", "--batch-size", "8", "--skip-naive"],
        ],
        "official": [["--images", "64", "--size", "256", "--repeats", "3"]],
    },
    ("cuda", True): {
        "score": [["--images", "16", "--rounds", "1"]],
        "train": [["--size", "256", "--steps", "5", "--rounds", "2", "--batch-sizes", "1,4"]],
        "images": [["--images", "16", "--size", "256", "--batch-size", "8", "--repeats", "1"]],
        "video": [["--frames", "32", "--size", "1280x720", "--batch-size", "8", "--skip-naive"]],
        "official": [["--images", "8", "--size", "256", "--repeats", "1"]],
    },
    ("cpu", False): {
        "score": [["--images", "32", "--rounds", "3"]],
        "train": [["--size", "128", "--steps", "2", "--rounds", "3", "--batch-sizes", "1,2"]],
        "images": [["--images", "16", "--size", "128", "--repeats", "1"]],
        "video": [["--frames", "24", "--size", "320x180"]],
        "onnx": [["--frames", "16", "--rounds", "3"]],
        "official": [["--images", "16", "--size", "256", "--repeats", "3"]],
    },
    ("cpu", True): {
        "score": [["--images", "4", "--rounds", "1"]],
        "train": [["--size", "64", "--steps", "1", "--rounds", "2", "--batch-sizes", "1,2"]],
        "images": [["--images", "4", "--size", "64", "--repeats", "1"]],
        "video": [["--frames", "8", "--size", "128x72"]],
        "onnx": [["--frames", "2", "--rounds", "1", "--sizes", "64x64"]],
        "official": [["--images", "4", "--size", "64", "--repeats", "1"]],
    },
}


@dataclass
class Row:
    benchmark: str
    size: str
    batch: int
    precision: str
    items_per_s: float  # images (train, translate) or frames (video)
    flops_per_item: int
    steps_per_s: float | None = None
    vs_baseline: float | None = None
    cpu_ms: float | None = None


def train_rows(argv: list[str], device: str) -> list[Row]:
    args = train_step.parser().parse_args([*argv, "--device", device])
    rates = train_step.run(args)
    base = rates[0].steps_per_s
    rows = []
    for r in rates:
        name = "train: plain fp32 eager (baseline)" if r.name == "plain" else f"train: {r.name}"
        per_image = flops.train_step_flops(args.size, r.batch, args.ngf, args.blocks) // r.batch
        images = r.steps_per_s * r.batch
        size = f"{args.size}x{args.size}"
        rows.append(Row(name, size, r.batch, r.precision, images, per_image, r.steps_per_s, images / base))
    return rows


def onnx_rows(argv: list[str]) -> tuple[list[Row], list[str]]:
    """onnxruntime and the engine on the same frames; vs baseline = against the engine's default precision."""
    args = onnx_runtime.parser().parse_args(argv)
    try:
        results = onnx_runtime.run(args)
    except ImportError:
        return [], ["onnx rows skipped: onnxruntime is not installed (pip install '.[onnx]')"]
    rows = []
    for result in results:
        width, height = map(int, result["size"].split("x"))
        one_pass = flops.generator_flops(height, width, GeneratorSpec(ngf=args.ngf, n_blocks=args.blocks))
        engine = result["rates"][f"engine {result['precision']}"]
        for name, rate in result["rates"].items():
            precision = name.rsplit(" ", 1)[1]
            rows.append(Row(f"onnx: {name}", result["size"], result["batch"], precision, rate, one_pass))
            rows[-1].vs_baseline, rows[-1].cpu_ms = rate / engine, result["cpu_ms"][name]
    return rows, []


def score_rows(argv: list[str], device: str) -> tuple[list[Row], list[str]]:
    """Feature extraction for KID/FID; vs baseline = against one image at a time."""
    args = score.parser().parse_args([*argv, "--device", device])
    try:
        rates, cpu_ms, change = score.run(args)
    except MetricsUnavailable:
        return [], ["score rows skipped: the metrics extra is not installed (pip install '.[metrics]')"]
    base = rates["one at a time (baseline)"]
    rows = []
    for name, rate in rates.items():
        work = 0 if name.startswith("cached") else score.INCEPTION_FLOPS  # a cache hit runs no network
        batch = 1 if name.startswith("one") else 16
        rows.append(Row(f"score (clean): {name}", f"{args.size}x{args.size}", batch, "fp32", rate, work))
        rows[-1].vs_baseline, rows[-1].cpu_ms = rate / base, cpu_ms[name]
    return rows, [f"score: bf16 autocast moves the Inception features by up to {change:.1e} relative (fp32 kept)"]


def translation_rows(kind: str, argv: list[str], device: str) -> tuple[list[Row], list[str]]:
    """Rows of the image or video benchmark, and its pipeline-efficiency notes."""
    if kind == "images":
        args = translate_images.parser().parse_args([*argv, "--device", device])
        rate, cpu_ms, precision, _ = translate_images.run(args)
        height = width = args.size
    else:
        args = translate_video.parser().parse_args([*argv, "--device", device])
        rate, cpu_ms, precision, _, _ = translate_video.run(args)
        width, height = map(int, args.size.split("x"))
    size, one_pass = f"{width}x{height}", flops.generator_flops(height, width)
    rows = []
    for name in rate:
        passes = 1 if name == "naive" or name.endswith("--no-cycle") else 2  # the cycle adds F(G(x))
        vs = rate[name] / rate["naive"] if "naive" in rate and name.startswith("ours") else None
        if name == "naive":
            label, batch, row_precision = "naive recipe (one at a time)", 1, "fp32"
        else:
            label, batch, row_precision = name, args.batch_size, precision
        rows.append(Row(f"{kind}: {label}", size, batch, row_precision, rate[name], passes * one_pass))
        rows[-1].vs_baseline, rows[-1].cpu_ms = vs, cpu_ms[name]
    notes = [
        f"{kind} {size} efficiency{suffix} (end-to-end / model only): "
        f"{rate['ours' + suffix] / rate['model only' + suffix]:.2f} wall, "
        f"{cpu_ms['model only' + suffix] / cpu_ms['ours' + suffix]:.2f} CPU time"
        for suffix in (" --no-cycle", "")
    ]
    return rows, notes


def official_note(argv: list[str], device: str) -> str:
    """One line: translate against the official test.py's work, whole processes (bench/official_test.py)."""
    args = official_test.parser().parse_args(["--compare", *argv, "--device", device])
    official, ours = official_test.compare(args)
    return (
        f"translate vs official test.py (fp32 batch-1 loop, same weights, images and device, whole process, "
        f"{args.count} images of {args.size}x{args.size}): {official:.1f} s / {ours:.1f} s = {official / ours:.2f}x"
    )


def render(rows: list[Row], peaks: dict[str, float]) -> str:
    header = "| benchmark | size | batch | precision | steps/s | items/s | vs baseline | CPU ms/item | GFLOP/item "
    header += "| TFLOP/s | of peak |"
    lines = [header, "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        achieved = r.items_per_s * r.flops_per_item
        cells = [
            r.benchmark,
            r.size,
            str(r.batch),
            r.precision,
            f"{r.steps_per_s:.3f}" if r.steps_per_s is not None else "",
            f"{r.items_per_s:.3f}",
            f"{r.vs_baseline:.2f}x" if r.vs_baseline is not None else "",
            f"{r.cpu_ms:.0f}" if r.cpu_ms is not None else "",
            f"{r.flops_per_item / 1e9:.1f}",
            f"{achieved / 1e12:.3f}",
            f"{achieved / peaks[r.precision]:.1%}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        epilog="example: python -m bench --quick   (the full run: python -m bench, or make bench)",
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks that everything runs")
    parser.add_argument("--only", default=",".join(KINDS), help="comma-separated subset of those")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    parser.add_argument("--compile", action="store_true", help="train rows also with torch.compile (slow start)")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")

    device = pick_device(args.device)
    plan = PLANS[("cuda" if device.type == "cuda" else "cpu", args.quick)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    load = f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if device.type == "cpu" else ""
    print(
        f"# python -m bench{' --quick' if args.quick else ''} - {datetime.date.today()}, {name}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads{load}",
        flush=True,
    )
    precisions = {"fp32", choose_precision("auto", device)[0]}
    peaks = {p: flops.peak_matmul_flops(device, p) for p in sorted(precisions)}
    print("peak matmul: " + ", ".join(f"{p} {v / 1e12:.2f} TFLOP/s" for p, v in peaks.items()), flush=True)

    rows: list[Row] = []
    notes: list[str] = []
    for kind in kinds:
        for argv in plan.get(kind, []):
            print(f"running {kind} {' '.join(argv)}", flush=True)
            if kind == "train":
                rows += train_rows([*argv, *(["--compile"] if args.compile else [])], str(device))
            elif kind == "official":
                notes.append(official_note(argv, str(device)))
                print(notes[-1], flush=True)
            elif kind == "score":
                more_rows, more_notes = score_rows(argv, str(device))
                rows, notes = rows + more_rows, notes + more_notes
            elif kind == "onnx":
                more_rows, more_notes = onnx_rows(argv)
                rows, notes = rows + more_rows, notes + more_notes
            else:
                more_rows, more_notes = translation_rows(kind, argv, str(device))
                rows, notes = rows + more_rows, notes + more_notes
    print()
    print(render(rows, peaks))
    print()
    print("vs baseline: train rows by images/s against the plain fp32 eager batch-1 step; translation rows")
    print("against the naive recipe (ours --no-cycle does the same work, ours also runs F(G(x)) and the metrics);")
    print("onnx rows against the engine in its default precision, on the same frames in memory.")
    print("of peak: TFLOP/s reached over the measured peak matmul rate of the row's precision.")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
