"""How well a translation cycles back (L1, PSNR, SSIM of x against F(G(x))) and how close a frame stays to another
(PSNR: the stabilizer's fidelity): cheap, per image or frame. How real a set looks (KID, FID) is realism/'s.

Every function takes two uint8 H x W x 3 arrays of the same shape and measures on the [0, 1] scale
(data range 1), so the numbers mean the same for images, video frames and every stage's CSV.

SSIM is scikit-image's `structural_similarity` with its defaults (7x7 uniform window, sample covariance,
K1 = 0.01, K2 = 0.03, reflect borders, mean over the window-valid area and the channels), computed with
OpenCV box filters in float32: the same numbers to ~1e-8 (tests/test_translate_images.py checks it against
scikit-image), faster (measured: bench/RESULTS.md, appendix "Session 1 details", image folder translation),
and OpenCV releases the GIL, so metric threads run beside the model.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SSIM_WINDOW = 7  # scikit-image's default
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _check(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape or x.dtype != np.uint8 or y.dtype != np.uint8:
        raise ValueError(f"need two uint8 arrays of one shape, got {x.dtype}{x.shape} and {y.dtype}{y.shape}")


def l1(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute difference on the [0, 1] scale."""
    _check(x, y)
    return float(np.abs(x.astype(np.int16) - y.astype(np.int16)).mean() / 255.0)


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data range 1; inf for identical images."""
    _check(x, y)
    diff = x.astype(np.float64) - y.astype(np.float64)
    mse = float(np.mean(diff * diff)) / 255.0**2
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(x: np.ndarray, y: np.ndarray) -> float | None:
    """Mean structural similarity (scikit-image's definition); None for images under 3 pixels on a side.

    Sides under 7 pixels use the largest odd window that fits, as scikit-image requires one to be chosen.
    """
    _check(x, y)
    window = min(SSIM_WINDOW, *x.shape[:2])
    window -= 1 - window % 2  # odd
    if window < 3:
        return None
    a, b = x.astype(np.float32), y.astype(np.float32)
    c1, c2 = (SSIM_K1 * 255.0) ** 2, (SSIM_K2 * 255.0) ** 2
    n = window * window
    cov_norm = n / (n - 1)  # sample covariance, as scikit-image's default

    def mean(img: np.ndarray) -> np.ndarray:
        return cv2.blur(img, (window, window), borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = mean(a), mean(b)
    var_a = cov_norm * (mean(a * a) - mu_a * mu_a)
    var_b = cov_norm * (mean(b * b) - mu_b * mu_b)
    cov = cov_norm * (mean(a * b) - mu_a * mu_b)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    pad = (window - 1) // 2  # scikit-image averages only where the whole window lies inside the image
    return float(s[pad : s.shape[0] - pad, pad : s.shape[1] - pad].astype(np.float64).mean())


def cycle_metrics(x: np.ndarray, reconstruction: np.ndarray) -> dict[str, float | None]:
    """{"l1", "psnr", "ssim"} of an image against its reconstruction (the cycle.csv columns)."""
    return {"l1": l1(x, reconstruction), "psnr": psnr(x, reconstruction), "ssim": ssim(x, reconstruction)}
