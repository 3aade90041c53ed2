"""Realism: how much a set of images looks like a domain's real images, on the standard Inception features.

The room holds everything of it: the Inception weights, their checks and the input protocol (inception.py),
features of folders, files and arrays with their cache (features.py), the KID/FID statistics (stats.py), and
the one call every stage uses, `score(images, reference, device) -> RealismScore` (score.py): `train`'s
evaluation, the report, `demo-score` and the `score` verb.
"""

from cyclegan_batch.realism.features import Features
from cyclegan_batch.realism.inception import PROTOCOL, MetricsUnavailable, available
from cyclegan_batch.realism.score import Images, Scorer, score
from cyclegan_batch.realism.stats import RealismScore

__all__ = ["PROTOCOL", "Features", "Images", "MetricsUnavailable", "RealismScore", "Scorer", "available", "score"]
