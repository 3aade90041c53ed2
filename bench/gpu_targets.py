"""Issue 30's GPU targets, one part at a time, each saved as JSON the moment it is measured; then a summary.

    python -m bench.gpu_targets --part video --out results/gpu      # also: images, official, train, nvenc
    python -m bench.gpu_targets --summary --out results/gpu         # every target: measured, met, or why not
    python -m bench.gpu_targets --part video --device cpu --quick   # the same code at toy sizes (tests, CPU)

The paper's generator (ngf 64, 9 blocks, random weights: speed does not depend on training), bf16 (precision
auto on a GPU). Targets (end to end against model only, the same run):
- video, 1280x720: `--no-cycle` >= 80 % of the model alone, the defaults (cycle metrics, stabilizer) >= 70 %
  of G and F alone; the decoder and encoder used are recorded;
- images, 256x256: `translate --no-cycle` >= 50 % of the model alone;
- official: `translate --no-cycle` against the official test.py's fp32 batch-1 loop on 256 images of 256x256,
  whole processes: >= 5x (bench/official_test.py);
- train: the paper's step at batch 1 captured (`--capture`) >= 3x the plain fp32 eager step, and the captured
  step against the same step eager over 20 steps (bench/train_step.py, train/capture.py);
- nvenc: the CRF -> NVENC -cq mapping (bench/nvenc_quality.py), not a target but what media/codecs.py needs.
A part that cannot run here (no GPU, no NVENC) saves why, so the summary says it is unmeasured, not failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import traceback
from pathlib import Path

import numpy as np
import torch

TARGETS = {  # part -> [(key in its JSON, least value, what it is)]
    "video": [("no_cycle_of_model", 0.8, "1280x720 video --no-cycle, of model-only frames/s"),
              ("defaults_of_model", 0.7, "1280x720 video, defaults, of model-only (G and F) frames/s")],
    "images": [("no_cycle_of_model", 0.5, "256x256 images --no-cycle, of model-only images/s")],
    "official": [("speedup", 5.0, "translate against the official test.py, 256 images of 256x256")],
    "train": [("captured_vs_plain", 3.0, "training step at batch 1, captured, against plain fp32 eager"),
              ("agreement", 1.0, "captured step equals the eager step over 20 steps (1: within bf16 tolerance)")],
    "nvenc": [],
}  # fmt: skip
BF16_TOLERANCE = 2e-2  # relative, on every loss term of every step


def timed(run, *args, **kwargs) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def paper_generators(ngf: int):  # noqa: ANN201 - a Generators
    from cyclegan_batch.models.modelfile import Generators, ModelInfo
    from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator

    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=ngf, n_blocks=9 if ngf == 64 else 1)
    return Generators(ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec))


def video(args: argparse.Namespace, work: Path) -> dict:
    from bench.timing import model_only
    from bench.translate_video import make_clip
    from cyclegan_batch.media.decode import FrameReader
    from cyclegan_batch.media.probe import probe
    from cyclegan_batch.media.yuv import rgb_frames
    from cyclegan_batch.models.engine import Translator
    from cyclegan_batch.video.pipeline import translate_video

    frames, size = (8, "128x72") if args.quick else (100, "1280x720")
    clip = make_clip(work / "clip.mp4", frames, size)
    reader = FrameReader(clip, probe(clip), planes=False)
    decoded = np.stack(list(rgb_frames(reader)))
    reader.close()
    model = paper_generators(8 if args.quick else 64)
    log_lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: log_lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("cyclegan_batch").addHandler(handler)
    logging.getLogger("cyclegan_batch").setLevel(logging.INFO)
    result: dict = {"frames": len(decoded), "size": size}
    for cycle, temporal, name in ((False, None, "no_cycle"), (True, 0.8, "defaults")):
        translator = Translator(model, device=args.device, cycle=cycle)
        batch = translator.batch_size_for(*decoded.shape[1:3])
        model_only(translator, decoded[: 2 * batch], batch, True)  # warm-up
        alone = len(decoded) / timed(model_only, translator, decoded, batch, True)
        translate_video(translator, clip, work / f"warm_{name}.mp4", temporal=temporal, overwrite=True)
        end_to_end = len(decoded) / timed(
            translate_video, translator, clip, work / f"{name}.mp4", temporal=temporal, overwrite=True
        )
        result |= {f"{name}_model_fps": alone, f"{name}_fps": end_to_end, f"{name}_of_model": end_to_end / alone}
        result["precision"] = translator.precision
    result["codecs"] = sorted({line for line in log_lines if "decoding" in line})
    return result


def images(args: argparse.Namespace, work: Path) -> dict:
    from bench.timing import model_only
    from bench.translate_images import make_images
    from cyclegan_batch.media.images import load_rgb
    from cyclegan_batch.models.engine import Translator
    from cyclegan_batch.models.modelfile import save_generators
    from cyclegan_batch.translate.verb import TranslateOptions, translate_path

    count, size = (8, 64) if args.quick else (256, 256)
    paths = make_images(work / "in", count, size)
    decoded = np.stack([load_rgb(p) for p in paths])
    model = paper_generators(8 if args.quick else 64)
    save_generators(work / "model.safetensors", model.a_to_b, model.b_to_a, model.info)
    translator = Translator(model, device=args.device, cycle=False)
    batch = translator.batch_size_for(size, size)
    model_only(translator, decoded[:batch], batch)
    alone = count / timed(model_only, translator, decoded, batch)
    options = TranslateOptions(model=work / "model.safetensors", cycle=False, overwrite=True, device=args.device)
    translate_path(work / "in", work / "warm", options)  # the verb itself: scan, pipeline, cycle.csv
    end_to_end = count / timed(translate_path, work / "in", work / "out", options)
    ratio = end_to_end / alone
    return {"images": count, "size": size, "model_ips": alone, "ips": end_to_end, "no_cycle_of_model": ratio}


def official(args: argparse.Namespace, work: Path) -> dict:
    from bench import official_test

    count, size, repeats = (4, 64, 1) if args.quick else (256, 256, 2)
    argv = ["--compare", "--images", str(count), "--size", str(size), "--repeats", str(repeats)]
    theirs, ours = official_test.compare(official_test.parser().parse_args([*argv, "--device", args.device]))
    return {"images": count, "official_s": theirs, "translate_s": ours, "speedup": theirs / ours}


def train(args: argparse.Namespace, work: Path) -> dict:
    from bench import train_step
    from cyclegan_batch.device.precision import pick_device
    from cyclegan_batch.train.step import CycleGANStep

    size, ngf, blocks, steps = (32, 8, 1, 2) if args.quick else (256, 64, 9, 10)
    argv = ["--size", str(size), "--ngf", str(ngf), "--blocks", str(blocks), "--steps", str(steps), "--rounds", "3"]
    rates = train_step.run(train_step.parser().parse_args([*argv, "--capture", "--device", args.device]))
    by_name = {r.name: r.steps_per_s for r in rates}
    plain = by_name.pop("plain")
    captured = next(v for k, v in by_name.items() if "captured" in k)
    eager = next(v for k, v in by_name.items() if "captured" not in k)
    # the captured step against the same step run eagerly (cache-free autocast: the same arithmetic), 20 steps
    device = pick_device(args.device)
    cfg = train_step.paper_config(train_step.parser().parse_args(argv))
    layout = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    graphed, eager_step = (CycleGANStep(cfg, device, "bf16", layout, capture=True) for _ in range(2))
    eager_step._graph, eager_step.autocast_cache = None, False  # the same step, eager
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for _ in range(20):
        a, b = (torch.rand(1, 3, size, size, generator=g) * 2 - 1 for _ in "ab")
        ours, theirs = graphed.train_step(a, b), eager_step.train_step(a, b)
        worst = max(worst, *(abs(float(ours[k]) - float(v)) / max(abs(float(v)), 1e-6) for k, v in theirs.items()))
    return {
        "size": size,
        "plain_fp32_steps_per_s": plain,
        "eager_steps_per_s": eager,
        "captured_steps_per_s": captured,
        "captured_vs_plain": captured / plain,
        "captured_vs_eager": captured / eager,
        "worst_relative_loss_difference": worst,
        "agreement": 1.0 if worst <= BF16_TOLERANCE else 0.0,
    }


def nvenc(args: argparse.Namespace, work: Path) -> dict:
    from bench import nvenc_quality
    from cyclegan_batch.media.codecs import AUTO, choose_encoder

    choice = choose_encoder(AUTO, "yuv420p", 1280, 720, gpu=True)
    if choice.name != "h264_nvenc":
        return {"unmeasured": choice.reason}
    return nvenc_quality.measure(work, quick=args.quick)


PARTS = {"video": video, "images": images, "official": official, "train": train, "nvenc": nvenc}


def run_part(name: str, args: argparse.Namespace) -> dict:
    """One part into OUT/NAME.json: its figures, or why it was not measured."""
    import tempfile

    started = time.perf_counter()
    needs_gpu = args.device.startswith("cuda") or (args.device == "auto" and not args.quick)
    if needs_gpu and not torch.cuda.is_available():
        result = {"unmeasured": "no CUDA device on this machine"}
    else:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                result = PARTS[name](args, Path(tmp))
        except Exception as e:  # noqa: BLE001 - a part that breaks is reported, the next part still runs
            result = {"unmeasured": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
    result |= {"seconds": round(time.perf_counter() - started, 1), "device": device_name(args.device)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def device_name(device: str) -> str:
    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return "CPU"


def summary(out: Path) -> list[str]:
    """Every target: its figure and whether it is met, or unmeasured and why."""
    lines = []
    machine = (out / "gpu.txt").read_text().splitlines()[:1] if (out / "gpu.txt").is_file() else []
    not_run = machine[0] if machine and machine[0].startswith("no CUDA") else "the part did not run"
    for part, targets in TARGETS.items():
        path = out / f"{part}.json"
        result = json.loads(path.read_text()) if path.is_file() else {"unmeasured": not_run}
        for key, least, what in targets or [(None, None, part)]:
            if "unmeasured" in result:
                lines.append(f"UNMEASURED {what}: {result['unmeasured'].splitlines()[0]}")
            elif key is None:
                lines.append(f"MEASURED   {what}: {json.dumps({k: v for k, v in result.items() if k != 'seconds'})}")
            else:
                value = result[key]
                verdict = "MET       " if value >= least else "NOT MET   "
                lines.append(f"{verdict} {what}: {value:.2f} (target {least:g}) on {result['device']}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_targets", description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=sorted(PARTS), action="append", help="repeatable; default: all")
    p.add_argument("--summary", action="store_true", help="only the summary of OUT's saved parts")
    p.add_argument("--out", type=Path, default=Path("/tmp/gpu-session"))
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="toy sizes: checks that the code runs (any device)")
    args = p.parse_args()
    if not args.summary:
        for name in args.part or list(PARTS):
            result = run_part(name, args)
            print(f"{name}: {json.dumps(result)[:2000]}", flush=True)
    print("\n".join(summary(args.out)))


if __name__ == "__main__":
    main()
