"""KID and FID of sets of Inception features (realism/inception.py), in float64, with their noise.

- KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged
  over `KID_SUBSETS` random subsets; reported x100, as CUT, UNSB and UVCGAN do. Each subset is half of each
  set (at most `KID_SUBSET_SIZE` images; sets of 2,000 and more get clean-fid's and torchmetrics' 1,000).
  The statistic is torchmetrics' (tests/test_realism.py checks it to 1e-6); its expectation does not depend
  on the subset size, so the values are comparable with theirs.
- **The noise, one definition**: the standard deviation of the KIDs over those subsets. Half of a set drawn
  without replacement varies around the whole set's value about as much as the whole set's value varies
  from one draw of the images to another (half-sampling: twice the variance of an estimate from half as
  many images, times the finite-set correction 1/2), so the std says how much a KID would move on other
  images of the same kind - also where both sets are small and of equal size, where subsets of the whole
  set would all be the same and show none.
- **Two sets compared** (`kid_values`): the same images before and after a change (two checkpoints, or the
  inputs and their translations) are scored on the same subsets - the same images on each side - and the
  noise of the difference is the std of the per-subset differences: what is common to both (which images,
  which references) cancels, so a difference far smaller than either KID's own std can be beyond its noise.
- FID (Heusel et al. 2017): |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), with sample covariances.
  Biased upwards on small sets: an FID of fewer than `FID_PUBLISHED` images per side is not comparable with
  published FIDs (the 2,048 feature dimensions are the usual floor: pytorch-fid's and clean-fid's advice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000  # images of one set in one subset, at most
KID_MIN, FID_MIN = 2, 3  # images per side below which the estimate is undefined
RANKS = 50  # images a domain below which sets are too small to rank models by (the noise swamps the gaps)
FID_PUBLISHED = 2048  # images per side below which an FID is not comparable with published ones


def subset_size(n: int) -> int:
    """Images of a set of `n` in one KID subset: half of it, at least KID_MIN, at most KID_SUBSET_SIZE."""
    return min(n, KID_SUBSET_SIZE, max(KID_MIN, n // 2))


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _within(k: np.ndarray) -> float:
    """Mean of a square kernel matrix off its diagonal."""
    n = len(k)
    return float((k.sum() - np.trace(k)) / (n * (n - 1)))


def mmd2(x: np.ndarray, y: np.ndarray, within_y: float | None = None) -> float:
    """Unbiased MMD^2 of two feature sets (sizes may differ) under the kernel (x.y / d + 1)^3. `within_y`: y's own
    term, where the caller already has it (one reference subset scored against several sets)."""
    if within_y is None:
        within_y = _within(_kernel(y, y))
    return _within(_kernel(x, x)) + within_y - 2.0 * float(_kernel(x, y).mean())


def kid_values(
    sets: Sequence[np.ndarray], reference: np.ndarray, subsets: int = KID_SUBSETS, seed: int = 0
) -> np.ndarray:
    """MMD^2 (not x100) of each of `sets` against `reference` on each of `subsets` random subsets: k x subsets.

    The sets are paired (row i of each is the same image, e.g. before and after translation, or translated by
    two checkpoints), so every set is scored on the same subsets; the seed fixes them, so the same sizes give
    the same subsets in every call.
    """
    n, m = len(sets[0]), len(reference)
    if any(len(s) != n for s in sets):
        raise ValueError(f"paired sets must have the same size, got {[len(s) for s in sets]}")
    if min(n, m) < KID_MIN:
        raise ValueError(f"KID needs at least {KID_MIN} images per side, got {n} and {m}")
    rng = np.random.default_rng(seed)
    sn, sm = subset_size(n), subset_size(m)
    values = np.empty((len(sets), subsets))
    for j in range(subsets):
        pick, ref = rng.choice(n, sn, replace=False), reference[rng.choice(m, sm, replace=False)]
        within_ref = _within(_kernel(ref, ref))
        for i, features in enumerate(sets):
            values[i, j] = mmd2(features[pick], ref, within_ref)
    return values


def mean_std(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def kid(x: np.ndarray, y: np.ndarray, subsets: int = KID_SUBSETS, seed: int = 0) -> tuple[float, float]:
    """KID (not x100) of two N x d feature sets: the mean over random subsets and its noise (their std)."""
    return mean_std(kid_values([x], y, subsets, seed)[0])


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
    """KID x100 (with its noise) and FID of a generated set against a reference set."""

    generated: int  # images scored on each side
    reference: int
    kid_x100: float | None = None
    kid_x100_std: float | None = None
    fid: float | None = None
    fid_comparable: bool = False  # False below FID_PUBLISHED images a side: not comparable with published FIDs
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_values(kid_subsets: np.ndarray | None, generated: np.ndarray, reference: np.ndarray) -> RealismScore:
    """KID (from its per-subset values, None where the sets are too small) and FID, with the warnings."""
    n, m = len(generated), len(reference)
    result = RealismScore(n, m, fid_comparable=min(n, m) >= FID_PUBLISHED)
    if kid_subsets is not None:
        mean, std = mean_std(kid_subsets)
        result.kid_x100, result.kid_x100_std = 100.0 * mean, 100.0 * std
    else:
        result.warnings.append(f"no KID: it needs at least {KID_MIN} images per side ({n} generated, {m} reference)")
    if min(n, m) >= FID_MIN:
        result.fid = fid(generated, reference)
        if not result.fid_comparable:
            result.warnings.append(
                f"FID of {min(n, m)} images: biased upwards below {FID_PUBLISHED}, not comparable with published FIDs"
            )
    else:
        result.warnings.append(f"no FID: it needs at least {FID_MIN} images per side ({n} generated, {m} reference)")
    if KID_MIN <= min(n, m) < RANKS:
        result.warnings.append(too_small(min(n, m)))
    return result


def too_small(images: int) -> str:
    return (
        f"only {images} images on the smaller side: too small to rank models (the noise swamps the gaps below {RANKS})"
    )


def score_features(generated: np.ndarray, reference: np.ndarray) -> RealismScore:
    """KID and FID where the set sizes allow them; a warning (with the counts) where they do not or are noisy."""
    enough = min(len(generated), len(reference)) >= KID_MIN
    return score_values(kid_values([generated], reference)[0] if enough else None, generated, reference)


@dataclass
class Comparison:
    """The same images before and after a change (the inputs and their translations), each against one
    reference on the same KID subsets, and the change of KID with its noise (the std of the per-subset
    differences)."""

    before: RealismScore
    after: RealismScore
    kid_x100_diff: float | None = None  # after - before: negative where the change brought the set closer
    kid_x100_diff_std: float | None = None

    def lower_by(self, stds: float) -> bool:
        """After's KID is below before's by at least `stds` std of their difference."""
        if self.kid_x100_diff is None or self.kid_x100_diff_std is None:
            return False
        return -self.kid_x100_diff >= stds * self.kid_x100_diff_std

    def to_json(self) -> dict:
        diff, std = self.kid_x100_diff, self.kid_x100_diff_std
        return {
            "kid_x100_diff": None if diff is None else round(diff, 6),
            "kid_x100_diff_std": None if std is None else round(std, 6),
            "kid_x100_diff_in_std": None if diff is None or not std else round(diff / std, 3),
        }


def compare_features(before: np.ndarray, after: np.ndarray, reference: np.ndarray) -> Comparison:
    """`before` and `after` (paired: row i the same image) against `reference`, on the same subsets."""
    if min(len(after), len(reference)) < KID_MIN:
        return Comparison(score_values(None, before, reference), score_values(None, after, reference))
    values = kid_values([before, after], reference)
    diff, std = mean_std(100.0 * (values[1] - values[0]))
    return Comparison(score_values(values[0], before, reference), score_values(values[1], after, reference), diff, std)
