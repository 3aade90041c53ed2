"""Images through one generator as `translate` runs them, for scoring: what training's evaluation and the report's
test split judge are the images a user would get (whole, at their own size), not training crops."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from cyclegan_batch.models.engine import Translator


def translated(translator: Translator, images: list[np.ndarray]) -> list[np.ndarray]:
    """`images` (HxWx3 uint8, any sizes) through the engine in same-size batches of its choosing, in order."""
    out: list[np.ndarray] = [np.zeros(0, np.uint8)] * len(images)
    by_size: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, img in enumerate(images):
        by_size[img.shape].append(i)
    for (h, w, _), rows in by_size.items():
        batch = translator.batch_size_for(h, w)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            for i, y in zip(chunk, translator.translate(np.stack([images[i] for i in chunk])).outputs, strict=True):
                out[i] = y
    return out
