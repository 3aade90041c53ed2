"""`precision=auto`: chosen by the CPU's flags (injected here, so any machine tests every case), and bf16
translation stays faithful to fp32 with the bundled trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclegan_batch.demo import PHOTOS, random_crops, skimage_photo
from cyclegan_batch.device.precision import choose_precision
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.runfolder import bundled_model

CPU = torch.device("cpu")
ZEN4 = frozenset({"sse4_2", "avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
SAPPHIRE_RAPIDS = frozenset({"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"})
AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})


@pytest.mark.parametrize(
    ("flags", "want", "named"),
    [(ZEN4, "bf16", "avx512_bf16"), (SAPPHIRE_RAPIDS, "bf16", "amx_bf16"), (AVX2_ONLY, "fp32", "no native bf16")],
)
def test_auto_follows_the_cpu_flags(flags: frozenset[str], want: str, named: str) -> None:
    precision, why = choose_precision("auto", CPU, flags)
    assert precision == want
    assert why.startswith(f"auto: {want}") and named in why  # the log line and run.json say why


def test_an_explicit_choice_wins_and_fp16_needs_cuda() -> None:
    assert choose_precision("fp32", CPU, ZEN4) == ("fp32", "fp32: asked for")
    assert choose_precision("bf16", CPU, AVX2_ONLY)[0] == "bf16"
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        choose_precision("fp16", CPU, ZEN4)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse else float("inf")


def test_bf16_translation_of_the_bundled_model_is_within_40_db_of_fp32() -> None:
    """What `auto` now gives on AVX512-BF16 CPUs, against fp32, on photo crops at two sizes."""
    rng = np.random.default_rng(0)
    photos = [skimage_photo(name) for name in PHOTOS[:4]]
    crops = np.stack(random_crops(photos, 4, 128, rng))
    wide = np.stack([skimage_photo("astronaut.png")[100:280, 60:380]])  # 320x180, not a training size
    outputs = {}
    for precision in ("fp32", "bf16"):
        translator = Translator.from_file(bundled_model(), device="cpu", precision=precision, cycle=False)
        outputs[precision] = [translator.translate(frames).outputs for frames in (crops, wide)]
    for fp32, bf16 in zip(outputs["fp32"], outputs["bf16"], strict=True):
        assert psnr(bf16, fp32) >= 40.0
