"""JPEG decoded by torchvision where the model runs (nvjpeg on CUDA; the same code on the CPU device here),
by the rule of media/images.py: against Pillow's decoder, EXIF orientation, the guard, and what stays with Pillow."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan_batch.demo import skimage_photo
from cyclegan_batch.media.device_jpeg import decode_on, jpeg_device
from cyclegan_batch.media.images import ImageLoadError, load_rgb
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.translate.image_pipeline import ImageJob, PipelineSettings, translate_images

CPU = torch.device("cpu")
# torchvision is optional (pyproject.toml): where it is missing, media/device_jpeg.py leaves every file to Pillow.
# A CUDA build of it does not load beside a CPU torch, so a CPU-only environment (CI's) has none.
needs_torchvision = pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed (optional: nvjpeg on CUDA)"
)


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An upright photo, the same stored sideways with EXIF orientation 6 (a phone), grey, and CMYK."""
    folder = tmp_path_factory.mktemp("jpegs")
    photo = Image.fromarray(skimage_photo("astronaut.png")).resize((96, 64))
    paths = {name: folder / f"{name}.jpg" for name in ("upright", "rotated", "grey", "cmyk")}
    photo.save(paths["upright"], quality=95)
    sideways = photo.transpose(Image.Transpose.ROTATE_90)  # stored turned; orientation 6 turns it back
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(paths["rotated"], quality=95, exif=exif)
    photo.convert("L").save(paths["grey"], quality=95)
    photo.convert("CMYK").save(paths["cmyk"], quality=95)
    return paths


@needs_torchvision
@pytest.mark.parametrize("name", ["upright", "rotated", "grey"])
def test_decoded_as_pillow_decodes_it(jpegs: dict[str, Path], name: str) -> None:
    ours = decode_on(jpegs[name], CPU)
    assert ours is not None and ours.dtype == torch.uint8
    expected = load_rgb(jpegs[name]).astype(int)  # EXIF-upright, grey replicated to RGB
    assert ours.shape == expected.shape == (64, 96, 3)
    assert np.abs(ours.numpy().astype(int) - expected).mean() < 1.0  # IDCT and upsampling rounding only


@needs_torchvision
def test_what_stays_with_pillow(jpegs: dict[str, Path], tmp_path: Path) -> None:
    assert decode_on(jpegs["cmyk"], CPU) is None
    assert decode_on(jpegs["upright"], CPU, max_side=48) is None  # the CPU path downscales it
    png = tmp_path / "photo.png"
    Image.open(jpegs["upright"]).save(png)
    assert decode_on(png, CPU) is None
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpegs["upright"].read_bytes()[:200])
    assert decode_on(broken, CPU) is None  # Pillow's decoder gives the reason


def test_the_guard_comes_before_decoding(jpegs: dict[str, Path]) -> None:
    with pytest.raises(ImageLoadError, match="over the limit of 1000"):
        decode_on(jpegs["upright"], CPU, max_pixels=1000)


def test_only_a_cuda_device_decodes_by_default() -> None:
    assert jpeg_device(CPU) is None


@needs_torchvision
def test_image_folder_through_the_device_decoder(jpegs: dict[str, Path], tmp_path: Path) -> None:
    """translate_images with the JPEGs decoded on the (CPU) device: every output written, cycle metrics on the
    decoded pixels, the same outputs as the Pillow path to within the decoders' rounding."""
    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    translator = Translator(Generators(ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec)), device="cpu")
    outputs = {}
    for label, device in (("device", CPU), ("pillow", None)):
        jobs = [ImageJob(p, tmp_path / label / p.with_suffix(".png").name) for p in jpegs.values()]
        settings = PipelineSettings(batch_size=2, workers=2, jpeg_device=device)
        results = list(translate_images(translator, jobs, settings))
        assert all(r.error is None and r.metrics is not None for r in results)
        outputs[label] = {r.job.dst.name: np.asarray(Image.open(r.job.dst)).astype(int) for r in results}
    for name, image in outputs["device"].items():
        assert image.shape == outputs["pillow"][name].shape
        assert np.abs(image - outputs["pillow"][name]).mean() < 3.0
