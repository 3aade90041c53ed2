"""How well a translation cycles back (L1, PSNR, SSIM of x against F(G(x))) and how close a frame stays to another
(PSNR: the stabilizer's fidelity): cheap, per image or frame. How real a set looks (KID, FID) is realism/'s.

Every function takes two uint8 H x W x 3 arrays of the same shape and measures on the [0, 1] scale
(data range 1), so the numbers mean the same for images, video frames and every stage's CSV.

SSIM is scikit-image's `structural_similarity` with its defaults (7x7 uniform window, sample covariance,
K1 = 0.01, K2 = 0.03, reflect borders, mean over the window-valid area and the channels), computed with
OpenCV box filters in float32: the same numbers to ~1e-8 (tests/test_translate_images.py checks it against
scikit-image), faster (measured: bench/RESULTS.md, appendix "Session 1 details", image folder translation),
and OpenCV releases the GIL, so metric threads run beside the model. The `_batch` functions compute the same
in torch on a batch of frames where they are (a GPU: video/frames.py).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # the batched functions take torch tensors; the report imports this module without torch
    import torch

SSIM_WINDOW = 7  # scikit-image's default
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _check(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape or x.dtype != np.uint8 or y.dtype != np.uint8:
        raise ValueError(f"need two uint8 arrays of one shape, got {x.dtype}{x.shape} and {y.dtype}{y.shape}")


def l1(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute difference on the [0, 1] scale."""
    _check(x, y)
    return cv2.norm(x, y, cv2.NORM_L1) / x.size / 255.0  # an exact integer sum, in a double


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data range 1; inf for identical images."""
    _check(x, y)
    mse = cv2.norm(x, y, cv2.NORM_L2SQR) / x.size / 255.0**2  # an exact integer sum, in a double
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _ssim_window(shape: tuple[int, ...]) -> int | None:
    """scikit-image's window for this size: 7, or the largest odd side that fits; None under 3 pixels."""
    window = min(SSIM_WINDOW, *shape)
    window -= 1 - window % 2  # odd
    return window if window >= 3 else None


def ssim(x: np.ndarray, y: np.ndarray) -> float | None:
    """Mean structural similarity (scikit-image's definition); None for images under 3 pixels on a side.

    Sides under 7 pixels use the largest odd window that fits, as scikit-image requires one to be chosen.
    Only the window-valid area is averaged, so the border mode of the box filter never shows.
    """
    _check(x, y)
    window = _ssim_window(x.shape[:2])
    if window is None:
        return None
    a, b = x.astype(np.float32), y.astype(np.float32)
    pad = (window - 1) // 2  # scikit-image averages only where the whole window lies inside the image
    h, w = x.shape[:2]

    def mean(img: np.ndarray) -> np.ndarray:
        return cv2.blur(img, (window, window), borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = mean(a), mean(b)
    aa, bb, ab = mean(cv2.multiply(a, a)), mean(cv2.multiply(b, b)), mean(cv2.multiply(a, b))
    # the map over the whole frame, contiguous (faster than over the window-valid views), then that area
    s = np.ascontiguousarray(_ssim_map(mu_a, mu_b, aa, bb, ab, window)[pad : h - pad, pad : w - pad])
    return float(np.mean(cv2.mean(s)[: s.shape[2] if s.ndim == 3 else 1]))


def _ssim_map(mu_a, mu_b, aa, bb, ab, window: int):  # noqa: ANN001, ANN202 - NumPy arrays or torch tensors alike
    """SSIM per pixel from the window means of a, b, a^2, b^2 and ab (sample covariance, as scikit-image).

    Computed in place in its arguments (the callers' temporaries): the same operations in the same order as
        (2 mu_ab + c1) ((ab - mu_ab) 2 cov_norm + c2) / ((mu_aa + mu_bb + c1) ((aa + bb - mu_aa - mu_bb) cov_norm + c2))
    with one new array instead of fifteen (a third of the time on a 720p frame)."""
    c1, c2 = (SSIM_K1 * 255.0) ** 2, (SSIM_K2 * 255.0) ** 2
    cov_norm = window * window / (window * window - 1)
    mu_ab = mu_a * mu_b
    mu_a *= mu_a  # now mu_aa
    mu_b *= mu_b  # now mu_bb
    ab -= mu_ab
    ab *= 2 * cov_norm
    ab += c2
    mu_ab *= 2
    mu_ab += c1
    mu_ab *= ab  # the numerator
    aa += bb
    aa -= mu_a
    aa -= mu_b
    aa *= cov_norm
    aa += c2
    mu_a += mu_b
    mu_a += c1
    mu_a *= aa  # the denominator
    mu_ab /= mu_a
    return mu_ab


def cycle_metrics(x: np.ndarray, reconstruction: np.ndarray) -> dict[str, float | None]:
    """{"l1", "psnr", "ssim"} of an image against its reconstruction (the cycle.csv columns)."""
    return {"l1": l1(x, reconstruction), "psnr": psnr(x, reconstruction), "ssim": ssim(x, reconstruction)}


# The same, batched in torch where the frames are (a GPU's video frames): N x H x W x 3 uint8 tensors on any
# device, one value per frame. Sums of integers are exact (int64); SSIM runs in float32 as above
# (tests/test_frames.py holds them to the NumPy/OpenCV functions).
def l1_batch(x: torch.Tensor, y: torch.Tensor) -> list[float]:
    diff = (x.int() - y.int()).abs_()
    return (diff.flatten(1).sum(1).double() / (x[0].numel() * 255.0)).tolist()


def psnr_batch(x: torch.Tensor, y: torch.Tensor) -> list[float]:
    diff = x.int() - y.int()
    squares = diff.mul_(diff).flatten(1).sum(1).tolist()  # int64: exact
    return [math.inf if s == 0 else 10.0 * math.log10(x[0].numel() * 255.0**2 / s) for s in squares]


def ssim_batch(x: torch.Tensor, y: torch.Tensor) -> list[float | None]:
    import torch
    import torch.nn.functional as F

    window = _ssim_window(tuple(x.shape[1:3]))
    if window is None:
        return [None] * len(x)
    a, b = x.permute(0, 3, 1, 2).float(), y.permute(0, 3, 1, 2).float()
    means = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # N x 15 x H x W, one box filter for all
    means = F.avg_pool2d(F.avg_pool2d(means, (window, 1), stride=1), (1, window), stride=1)  # window-valid area
    s = _ssim_map(*means.chunk(5, dim=1), window)
    return s.double().mean((1, 2, 3)).tolist()


def cycle_metrics_batch(x: torch.Tensor, reconstruction: torch.Tensor) -> list[dict[str, float | None]]:
    """`cycle_metrics` of every frame of a batch, computed where the tensors are."""
    columns = l1_batch(x, reconstruction), psnr_batch(x, reconstruction), ssim_batch(x, reconstruction)
    return [{"l1": a, "psnr": b, "ssim": c} for a, b, c in zip(*columns, strict=True)]
