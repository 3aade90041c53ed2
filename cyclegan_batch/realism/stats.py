"""KID and FID of two sets of Inception features (realism/inception.py), in float64.

- KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged
  over `KID_SUBSETS` random subsets of min(n_generated, n_reference, 1000) images each; its standard
  deviation over the subsets goes with it. Reported x100, as CUT, UNSB and UVCGAN do. clean-fid's and
  torchmetrics' definition: tests/test_realism.py checks the numbers against torchmetrics to 1e-6.
- FID (Heusel et al. 2017): |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), with sample covariances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_MIN, FID_MIN = 2, 3  # images per side below which the estimate is undefined
RELIABLE = 50  # below this many images per side the numbers are noisy: a warning says so


def _mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size feature sets under the kernel (x.y / d + 1)^3."""
    m, d = len(x), x.shape[1]
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid(
    x: np.ndarray, y: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0
) -> tuple[float, float]:
    """KID (not x100) of two N x d feature sets: mean and standard deviation over random subsets."""
    n = min(len(x), len(y), subset_size)
    if n < KID_MIN:
        raise ValueError(f"KID needs at least {KID_MIN} images per side, got {len(x)} and {len(y)}")
    if n == len(x) == len(y):  # every subset would be the whole of both sets
        return _mmd2(x, y), 0.0
    rng = np.random.default_rng(seed)
    values = [
        _mmd2(x[rng.choice(len(x), n, replace=False)], y[rng.choice(len(y), n, replace=False)]) for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def fid(x: np.ndarray, y: np.ndarray) -> float:
    """FID of two N x d feature sets.

    tr((S1 S2)^1/2) is the sum of the square roots of the eigenvalues of S1 S2, which are those of the
    symmetric S1^1/2 S2 S1^1/2 - or, with S = C^T C / (n - 1) for the centred features C, the squares of the
    singular values of C1 C2^T / sqrt((n1 - 1)(n2 - 1)). Both are exact; the second costs an n1 x n2 SVD
    instead of two d x d eigendecompositions, which is what makes a few hundred images cheap.
    """
    if min(len(x), len(y)) < FID_MIN:
        raise ValueError(f"FID needs at least {FID_MIN} images per side, got {len(x)} and {len(y)}")
    cx, cy = x - x.mean(0), y - y.mean(0)
    nx, ny = len(x) - 1, len(y) - 1
    trace_x, trace_y = float((cx * cx).sum() / nx), float((cy * cy).sum() / ny)
    if len(x) * len(y) <= x.shape[1] ** 2:
        cross = float(np.linalg.svd(cx @ cy.T, compute_uv=False).sum() / math.sqrt(nx * ny))
    else:
        eig_x, vec_x = np.linalg.eigh(cx.T @ cx / nx)
        root_x = (vec_x * np.sqrt(np.clip(eig_x, 0, None))) @ vec_x.T
        middle = root_x @ (cy.T @ cy / ny) @ root_x
        cross = float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum())
    mean_term = float(((x.mean(0) - y.mean(0)) ** 2).sum())
    return max(0.0, mean_term + trace_x + trace_y - 2.0 * cross)


@dataclass
class RealismScore:
    """KID x100 (with its std over subsets) and FID of a generated set against a reference set."""

    generated: int  # images scored on each side
    reference: int
    kid_x100: float | None = None
    kid_x100_std: float | None = None
    fid: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_features(generated: np.ndarray, reference: np.ndarray) -> RealismScore:
    """KID and FID where the set sizes allow them; a warning (with the counts) where they do not or are noisy."""
    n, m = len(generated), len(reference)
    result = RealismScore(n, m)
    if min(n, m) >= KID_MIN:
        mean, std = kid(generated, reference)
        result.kid_x100, result.kid_x100_std = 100.0 * mean, 100.0 * std
    else:
        result.warnings.append(f"no KID: it needs at least {KID_MIN} images per side ({n} generated, {m} reference)")
    if min(n, m) >= FID_MIN:
        result.fid = fid(generated, reference)
    else:
        result.warnings.append(f"no FID: it needs at least {FID_MIN} images per side ({n} generated, {m} reference)")
    if KID_MIN <= min(n, m) < RELIABLE:
        result.warnings.append(
            f"only {min(n, m)} images on the smaller side: KID is noisy below {RELIABLE}, FID biased below thousands"
        )
    return result
