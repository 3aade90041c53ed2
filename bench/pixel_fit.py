"""The best per-pixel colour map of a known mapping: what a colour function alone can do on its true pairs.

A mapping counts as spatial (bench/quick_style.py) only if no function of each pixel's own colour comes
close to it. Two such functions are fitted by least squares on (crop, mapping(crop)) pairs and scored on
held-out pairs, as the gain in PSNR over leaving the crops untouched:
- a cubic polynomial in R, G, B (20 terms per output channel);
- a 17^3 3D LUT with tetrahedral interpolation (what `export look.cube` writes for a `grade` model), its
  lattice values fitted to the pairs with a small smoothness penalty for cells no pair falls in.
The larger of the two gains is the per-pixel fit's gain.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from cyclegan_batch.models.lut import interpolate, tetrahedral_weights

LUT_SIZE = 17
SMOOTHNESS = 1e-3  # weight of the lattice's first differences, per pair, against the squared error
MAX_PAIRS = 400_000  # pixels the fits see (a random subset): plenty for 14,739 lattice values


def cubic_features(x: np.ndarray) -> np.ndarray:
    """N x 3 colours in [0, 1] -> N x 20 monomials r^i g^j b^k with i + j + k <= 3."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    powers = [(i, j, k) for i in range(4) for j in range(4 - i) for k in range(4 - i - j)]
    return np.stack([r**i * g**j * b**k for i, j, k in powers], axis=1)


def _lut_matrix(size: int, x: np.ndarray) -> sp.csr_matrix:
    index, weights = tetrahedral_weights(size, x)
    rows = np.repeat(np.arange(len(x)), 4)
    return sp.csr_matrix((weights.ravel(), (rows, index.ravel())), shape=(len(x), size**3))


def _differences(size: int) -> sp.csr_matrix:
    """First differences between lattice neighbours along red, green and blue."""
    ids = np.arange(size**3).reshape(size, size, size)
    pairs = [
        (np.take(ids, range(size - 1), axis=a).ravel(), np.take(ids, range(1, size), axis=a).ravel()) for a in range(3)
    ]
    lo, hi = (np.concatenate(p) for p in zip(*pairs, strict=True))
    rows = np.arange(len(lo))
    data = np.concatenate([-np.ones(len(lo)), np.ones(len(lo))])
    return sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([lo, hi]))), shape=(len(lo), size**3))


def fit_lut(x: np.ndarray, y: np.ndarray, size: int = LUT_SIZE) -> np.ndarray:
    """The size^3 x 3 lattice whose tetrahedral interpolation best maps colours x to y (N x 3, [0, 1])."""
    d = _differences(size)
    system = sp.vstack([_lut_matrix(size, x), np.sqrt(SMOOTHNESS * len(x) / size**3) * d]).tocsr()
    zeros = np.zeros(d.shape[0])
    return np.stack(
        [sla.lsqr(system, np.concatenate([y[:, c], zeros]), atol=1e-10, btol=1e-10, iter_lim=500)[0] for c in range(3)],
        axis=1,
    )


def _pixels(images: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([img.reshape(-1, 3) for img in images]).astype(np.float64) / 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of uint8 images (or stacks of them) over all their pixels together."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse) if mse else float("inf")


def per_pixel_gain(train: tuple[list, list], heldout: tuple[list, list], seed: int = 0) -> dict[str, float]:
    """Gains (dB, over the untouched held-out crops) of the cubic and LUT fits on `train` = (crops, mapped)."""
    x, y = _pixels(train[0]), _pixels(train[1])
    pick = np.random.default_rng(seed).permutation(len(x))[:MAX_PAIRS]
    x, y = x[pick], y[pick]
    coef = np.linalg.lstsq(cubic_features(x), y, rcond=None)[0]
    table = fit_lut(x, y)
    a, truth = np.stack(heldout[0]), np.stack(heldout[1])
    flat = a.reshape(-1, 3).astype(np.float64) / 255.0
    untouched = psnr(a, truth)
    gains = {}
    for name, fitted in (("cubic", cubic_features(flat) @ coef), ("lut", interpolate(table, flat))):
        mapped = (np.clip(fitted, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).reshape(a.shape)
        gains[name] = psnr(mapped, truth) - untouched
    return gains
