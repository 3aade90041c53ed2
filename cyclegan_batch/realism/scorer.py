"""One way to ask how real a set of images looks: `score(images, reference, device) -> RealismScore`.

`images` and `reference` may each be a folder (searched recursively) or one image file, a list of image
files, a list of HxWx3 uint8 arrays, or `Features` already computed. A folder or list of files given as the
reference is cached by content (realism/features.py), so scoring many sets against one domain reads it once;
what is scored is not cached (outputs change with every model). `Scorer` keeps the network and the
references' features for callers that score many sets (the report, training's evaluation); `compare_sets`
scores the same images before and after a change (inputs and their translations) with the noise of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cyclegan_batch.device.precision import pick_device
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.realism.features import Features, file_features, folder_features
from cyclegan_batch.realism.inception import InceptionFeatures
from cyclegan_batch.realism.stats import Comparison, RealismScore, compare_features, score_features

Images = Path | Sequence[Path] | Sequence[np.ndarray] | Features


class Scorer:
    """The Inception network on a device (MetricsUnavailable without the [metrics] extra's weights)."""

    def __init__(self, device: torch.device | str = "auto", batch_size: int = 16) -> None:
        self.net = InceptionFeatures(pick_device(device) if isinstance(device, str) else device, batch_size)
        self._references: dict[Path, Features] = {}

    def features(self, images: Images, *, cache: bool = False, progress: bool = False) -> Features:
        """Features of `images` (see the module docstring); `cache`: look files up and store them by content."""
        if isinstance(images, Features):
            return images
        if isinstance(images, Path):
            if not images.exists():
                raise UserError(f"{images} does not exist; pass a folder of images (or one image)", ExitCode.USAGE)
            return folder_features(images, self.net, cache=cache, progress=progress)
        if images and isinstance(images[0], np.ndarray):
            return Features(self.net.features(list(images)))  # type: ignore[arg-type]
        return file_features(list(images), self.net, cache=cache, progress=progress)  # type: ignore[arg-type]

    def reference(self, folder: Path, *, progress: bool = False) -> Features:
        """A reference folder's features, computed once per Scorer and cached on disk by content."""
        if folder not in self._references:
            self._references[folder] = self.features(folder, cache=True, progress=progress)
        return self._references[folder]

    def score(self, images: Images, reference: Images) -> RealismScore:
        """KID and FID of `images` against `reference` (a folder reference is cached: `reference()`)."""
        return self.score_sets(*self.sets(images, reference))

    def sets(self, images: Images, reference: Images, *, progress: bool = False) -> tuple[Features, Features]:
        """The features of both sides, refusing what cannot be scored: a folder against itself, or a side with
        no readable image."""
        if isinstance(images, Path) and isinstance(reference, Path) and images.resolve() == reference.resolve():
            raise UserError(
                f"the images and the reference are the same folder ({images}): that scores ~0 by construction; "
                "pass the real images of the target domain as the reference",
                ExitCode.USAGE,
            )
        generated = _something_to_score(self.features(images, progress=progress), images)
        if isinstance(reference, Path):
            ref = self.reference(reference, progress=progress)
        else:
            ref = self.features(reference, cache=True, progress=progress)
        return generated, _something_to_score(ref, reference)

    @staticmethod
    def score_sets(generated: Features, reference: Features) -> RealismScore:
        return score_features(generated.features, reference.features)

    @staticmethod
    def compare_sets(before: Features, after: Features, reference: Features) -> Comparison:
        """`before` and `after`, the same images (row by row) before and after a change, against `reference` on
        the same KID subsets: both scores and the change with its noise (realism/stats.py)."""
        return compare_features(before.features, after.features, reference.features)


def _something_to_score(side: Features, given: Images) -> Features:
    """`side` if it holds a readable image; else the refusal, before the other side is read."""
    if not len(side.features):
        found = f"only unreadable files ({len(side.skipped)})" if side.skipped else "no images"
        raise UserError(f"{given if isinstance(given, Path) else 'a set'} holds {found}: nothing to score")
    return side


def score(images: Images, reference: Images, device: torch.device | str = "auto") -> RealismScore:
    """KID x100 with its std and FID of `images` against `reference`, with counts and warnings."""
    return Scorer(device).score(images, reference)
