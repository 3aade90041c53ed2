"""The one pixel normalization of this project: RGB uint8 <-> the networks' [-1, 1] (stored in model files)."""

from __future__ import annotations

import numpy as np
import torch

NORMALIZATION = "x / 127.5 - 1"  # as the model file's header states it; outputs map back with (y + 1) * 127.5


def to_model_range(t: torch.Tensor) -> torch.Tensor:
    """uint8 values (any layout, any device) as float in [-1, 1]."""
    return t.float().div_(127.5).sub_(1.0)


def to_pixels(t: torch.Tensor) -> torch.Tensor:
    """[-1, 1] values (any layout) as rounded, clamped uint8."""
    return t.float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def to_uint8_image(t: torch.Tensor) -> np.ndarray:
    """[-1, 1] channels-first (3xHxW or Nx3xHxW, any device) -> channels-last uint8 numpy (HxWx3 or NxHxWx3)."""
    return to_pixels(t.detach()).movedim(-3, -1).cpu().numpy()
