"""JPEG decoded where the model runs: torchvision's nvjpeg path on a CUDA device, by media/images.py's rule.

On a GPU host the CPU's decoding sets the pace of image folders (bench/RESULTS.md, "CUDA GPU (current)"), and
most photos are JPEG. The rule stays the one every stage uses (media/images.py): the decompression-bomb guard
is checked on the header before any decoding, EXIF orientation is applied, and everything this path does not
take the same way goes to Pillow's decoder: other formats, CMYK and other modes, and files torchvision
refuses (its error is not the user's answer; Pillow's is). JPEG holds no alpha. nvjpeg's IDCT and chroma
upsampling differ from libjpeg's by a grey level or two (tests/test_device_jpeg.py).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch
from PIL import Image

from cyclegan_batch.media.images import DEFAULT_MAX_PIXELS, ImageLoadError

JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe"})
DEVICE_MODES = frozenset({"RGB", "L"})  # baseline colour and grey; CMYK, YCCK... stay with Pillow


@functools.cache
def jpeg_device(device: torch.device) -> torch.device | None:
    """`device` if torchvision decodes JPEG there (nvjpeg on CUDA), else None; tried once per device."""
    if device.type != "cuda":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import decode_jpeg, encode_jpeg

            decode_jpeg(encode_jpeg(torch.zeros(3, 8, 8, dtype=torch.uint8)), device=device)
    except (ImportError, RuntimeError):
        return None
    return device


def decode_on(
    path: Path, device: torch.device, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int | None = None
) -> torch.Tensor | None:
    """`path` as an H x W x 3 uint8 tensor on `device`, or None where Pillow's decoder must take it (see above,
    and images larger than `max_side`, which the CPU path downscales). Raises ImageLoadError for the guard."""
    if Path(path).suffix.lower() not in JPEG_SUFFIXES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own guard decides, below
            with Image.open(path) as img:  # the header only
                fmt, mode, (w, h) = img.format, img.mode, img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # Pillow's decoder gives the reason
    if w * h > max_pixels:
        raise ImageLoadError(f"{w}x{h} = {w * h} pixels is over the limit of {max_pixels} (--max-pixels)")
    if fmt != "JPEG" or mode not in DEVICE_MODES or (max_side and max(w, h) > max_side):
        return None
    try:
        data = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
        with warnings.catch_warnings():  # torchvision 0.29 points to torchcodec; 0.26 (torch 2.11) does not
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_jpeg

            pixels = decode_jpeg(data, mode=ImageReadMode.RGB, device=device, apply_exif_orientation=True)
    except (OSError, RuntimeError):
        return None
    return pixels.permute(1, 2, 0)
