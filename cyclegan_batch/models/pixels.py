"""The one pixel normalization of this project: RGB uint8 <-> the networks' [-1, 1] (stored in model files).

On a CPU the conversions are a large share of the work around a small model (bench/RESULTS.md, "The work
around the model"), so the model's input comes from a 256-entry table (`to_model_input`): one OpenCV pass
instead of four torch passes, with every value computed by `to_model_range` itself, so the bits are the same.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

NORMALIZATION = "x / 127.5 - 1"  # as the model file's header states it; outputs map back with (y + 1) * 127.5
# cv2.LUT writes these element types; a dtype without one (float16) is converted by torch
_LUT_STORAGE = {torch.float32: torch.float32, torch.bfloat16: torch.int16}


def to_model_range(t: torch.Tensor) -> torch.Tensor:
    """uint8 values (any layout, any device) as float in [-1, 1]."""
    return t.float().div_(127.5).sub_(1.0)


@functools.cache
def _input_table(dtype: torch.dtype) -> np.ndarray:
    """`to_model_range` of 0..255 in `dtype`, as the bits cv2.LUT copies (bfloat16 as int16)."""
    values = to_model_range(torch.arange(256, dtype=torch.uint8)).to(dtype)
    return values.view(_LUT_STORAGE[dtype]).numpy()


def to_model_input(frames: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """N x H x W x 3 uint8 frames (a CPU array) -> N x 3 x H x W in `dtype`, channels-last in memory, equal to
    `to_model_range(frames).to(dtype)` bit for bit: a table lookup per byte."""
    if dtype not in _LUT_STORAGE:
        return to_model_range(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)).to(dtype)
    n, h, w, c = frames.shape
    looked_up = cv2.LUT(np.ascontiguousarray(frames).reshape(n * h, w, c), _input_table(dtype))
    return torch.from_numpy(looked_up.reshape(n, h, w, c)).view(dtype).permute(0, 3, 1, 2)


def to_pixels(t: torch.Tensor) -> torch.Tensor:
    """[-1, 1] values (any layout, any dtype; the input is left as it is) as rounded, clamped uint8."""
    return t.to(torch.float32, copy=True).add_(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def to_uint8_image(t: torch.Tensor) -> np.ndarray:
    """[-1, 1] channels-first (3xHxW or Nx3xHxW, any device) -> channels-last uint8 numpy (HxWx3 or NxHxWx3)."""
    return to_pixels(t.detach()).movedim(-3, -1).cpu().numpy()
