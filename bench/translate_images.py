"""Images/s of folder translation against the naive recipe, and the pipeline's efficiency, same run.

    .venv/bin/python -m bench.translate_images                          # 64 images of 256x256, 3 repeats
    .venv/bin/python -m bench.translate_images --images 8 --repeats 1   # a quick look
    .venv/bin/python -m bench.translate_images --size 1024 --skip-naive # big images (on a GPU)

The model is the paper's generator (ngf 64, 9 residual blocks, random weights: speed does not depend
on training) in the default precision (`auto`: bf16 on this AMX CPU). Measured on a folder of PNGs:
- naive: what people write by hand - for each file, Pillow decode, G in fp32 on one image (plain NCHW),
  Pillow save; one at a time (no metrics).
- ours --no-cycle: `translate_path`, the verb itself (scan, pipeline, atomic writes, cycle.csv), doing
  the same work as naive (G only).
- ours (default): also F(G(x)) and L1/PSNR/SSIM per image - twice the network work.
- model only: `Translator.translate` on the decoded images held in memory, same batch size and settings;
  end-to-end / model-only is the pipeline efficiency (1.0 = decode, encode and metrics fully hidden).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.timing import batch_size_arg, median_seconds, model_only, print_comparison
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import ModelInfo, load_generators, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.translate.image_pipeline import PipelineSettings
from cyclegan_batch.translate.verb import TranslateOptions, translate_path


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    """Smooth random colour images with fine noise: PNGs that cost what photos cost to decode and encode."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        blobs = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((size, size), Image.BICUBIC)
        pixels = np.clip(np.asarray(blobs, np.int16) + rng.integers(-8, 8, (size, size, 3)), 0, 255)
        paths.append(folder / f"{i:04d}.png")
        Image.fromarray(pixels.astype(np.uint8)).save(paths[-1])
    return paths


def naive_recipe(generator: torch.nn.Module, images: list[Path], out: Path) -> None:
    """One image at a time: Pillow decode, G in fp32, Pillow save."""
    out.mkdir(parents=True, exist_ok=True)
    device = next(generator.parameters()).device
    with torch.inference_mode():
        for path in images:
            x = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None]
            y = generator(x.to(device).float() / 127.5 - 1.0)[0]
            pixels = ((y.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).byte().cpu().numpy()
            Image.fromarray(pixels).save(out / path.name)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--size", type=int, default=256, help="side of the square test images")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto", help="auto: the tool's default")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--skip-naive", action="store_true", help="only ours vs model-only (e.g. big sizes)")
    return p


def paper_model_file(folder: Path) -> Path:
    """The paper's generators (random weights, seed 0: speed does not depend on training) as a model file."""
    torch.manual_seed(0)
    spec = GeneratorSpec()
    path = folder / "model.safetensors"
    save_generators(path, ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec))
    return path


def run(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float], str, torch.device]:
    """Images/s and CPU ms/image of every variant by name, the precision used, and the device."""
    rate: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = make_images(work / "in", args.images, args.size)
        model_file = paper_model_file(work)
        model = load_generators(model_file)
        decoded = np.stack([load_rgb(p) for p in images])

        def measure(name: str, run: Callable[[], object]) -> None:
            wall, cpu_s = median_seconds(run, args.repeats)
            rate[name], cpu[name] = len(images) / wall, 1000 * cpu_s / len(images)
            print(f"  {name:<24} {rate[name]:8.2f} images/s  {cpu[name]:8.0f} CPU ms/image", flush=True)

        for cycle in (False, True):
            translator = Translator(model, device=args.device, cycle=cycle)
            # Resolved (auto -> a number) so that every variant and the report use the same batch.
            args.batch_size = translator.batch_size_for(decoded.shape[1], decoded.shape[2], args.batch_size)
            model_only(translator, decoded[: args.batch_size], args.batch_size)  # warm-up (oneDNN/cuDNN plans)
            suffix = "" if cycle else " --no-cycle"
            measure(f"model only{suffix}", lambda t=translator: model_only(t, decoded, args.batch_size))
            options = TranslateOptions(
                model=model_file,
                cycle=cycle,
                overwrite=True,
                device=args.device,
                pipeline=PipelineSettings(batch_size=args.batch_size),
            )
            measure(f"ours{suffix}", lambda o=options, c=cycle: translate_path(work / "in", work / f"out_{c}", o))
        precision, device = translator.precision, translator.device
        if not args.skip_naive:
            naive_net = model.a_to_b.to(device, memory_format=torch.contiguous_format)  # plain NCHW
            measure("naive", lambda: naive_recipe(naive_net, images, work / "naive"))
    return rate, cpu, precision, device


def main() -> None:
    args = parser().parse_args()
    rate, cpu, precision, device = run(args)
    print(
        f"{args.images} images of {args.size}x{args.size}, paper generator, precision {precision} on {device}, "
        f"batch {args.batch_size}, median of {args.repeats}"
    )
    print_comparison(rate, cpu)


if __name__ == "__main__":
    main()
