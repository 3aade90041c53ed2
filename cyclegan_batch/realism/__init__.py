"""Realism: how much a set of images looks like a domain's real images, on the standard Inception features.

The room holds everything of it: the Inception weights and their checks (weights.py), the network and its
input protocol (inception.py), features of folders, files and arrays with their cache (features.py), the
KID/FID statistics and their noise (stats.py), and the one call every stage uses, `score(images, reference,
device) -> RealismScore`, with the `Scorer` that keeps the network for many sets (scorer.py): `train`'s
evaluation, the report, `demo-score` and the `score` verb.

The names below load their module on first use, so that `prepare` reads stats.py's thresholds, and the
workflow asks whether KID/FID are `available`, without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cyclegan_batch.realism.features import Features
    from cyclegan_batch.realism.inception import PROTOCOL
    from cyclegan_batch.realism.scorer import Images, Scorer, score
    from cyclegan_batch.realism.stats import Comparison, RealismScore
    from cyclegan_batch.realism.weights import MetricsUnavailable, available

_HOMES = {
    "Comparison": "stats",
    "Features": "features",
    "Images": "scorer",
    "MetricsUnavailable": "weights",
    "PROTOCOL": "inception",
    "RealismScore": "stats",
    "Scorer": "scorer",
    "available": "weights",
    "score": "scorer",
}
__all__ = [  # the same names, spelled out for linters
    "Comparison",
    "Features",
    "Images",
    "MetricsUnavailable",
    "PROTOCOL",
    "RealismScore",
    "Scorer",
    "available",
    "score",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
