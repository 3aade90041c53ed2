"""Inception features of the images in a folder, with a per-file cache for folders that do not change.

Files are found recursively (hidden names skipped) by the suffixes `translate` reads, and decoded by the
tool's one rule (media.images: grayscale, RGBA, 16-bit and animated files included); a file that cannot
be decoded is skipped with its reason, as `translate` does. Videos in the folder are not images here.

The cache holds one .npy of 2048 features per file, named by the SHA-256 of the file's bytes, in a folder
named by the protocol and the weights: `$CYCLEGAN_BATCH_CACHE`, else `$XDG_CACHE_HOME/cyclegan-batch`, else
`~/.cache/cyclegan-batch`, then `inception-clean-<weights>/`. Scoring many outputs against one reference
reads the reference's images once; a changed file has a new hash, so a stale entry is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_batch.media.formats import is_image_name, visible_files
from cyclegan_batch.media.images import ImageLoadError, load_rgb
from cyclegan_batch.realism.inception import FEATURES, PROTOCOL, InceptionFeatures, to_input
from cyclegan_batch.realism.weights import WEIGHTS_SHA256
from cyclegan_batch.util.atomic import atomic_output
from cyclegan_batch.util.bounded import bounded_map
from cyclegan_batch.util.progress import progress_bar

log = logging.getLogger("cyclegan_batch")


def cache_root() -> Path:
    if os.environ.get("CYCLEGAN_BATCH_CACHE"):
        return Path(os.environ["CYCLEGAN_BATCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cyclegan-batch"


def cache_dir() -> Path:
    return cache_root() / f"inception-{PROTOCOL}-{WEIGHTS_SHA256[:12]}"


def image_files(folder: Path) -> list[Path]:
    """The images under `folder`, recursively, in a stable order (a single file is itself)."""
    return [path for path in visible_files(folder) if path == folder or is_image_name(path)]


@dataclass
class Features:
    features: np.ndarray  # N x 2048, one row per readable image
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    cached: int = 0  # rows read from the cache


def folder_features(folder: Path, net: InceptionFeatures, *, cache: bool, progress: bool = False) -> Features:
    """Features of every readable image under `folder`; with `cache`, looked up and stored by content hash."""
    return file_features(image_files(folder), net, cache=cache, progress=progress, label=folder.name)


def file_features(
    files: list[Path],
    net: InceptionFeatures,
    *,
    cache: bool,
    workers: int = 2,
    progress: bool = False,
    label: str = "features",
) -> Features:
    """Features of the readable ones of `files`, in order; the others are skipped with their reason."""
    store = cache_dir() if cache else None
    result = Features(np.zeros((0, FEATURES)))

    def read(path: Path) -> tuple[str, np.ndarray | None, np.ndarray | str]:
        """(content hash, cached features or None, network input or the reason it is unreadable)."""
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if store else ""
        except OSError as e:
            return "", None, f"cannot read file: {e.strerror or e}"
        if store and (store / f"{digest}.npy").is_file():
            try:
                return digest, np.load(store / f"{digest}.npy").astype(np.float64), np.zeros(0)
            except (OSError, ValueError):
                pass  # a damaged entry is recomputed and rewritten
        try:
            return digest, None, to_input(load_rgb(path))
        except ImageLoadError as e:
            return digest, None, str(e)

    rows: list[np.ndarray | None] = []
    pending: list[tuple[int, str, np.ndarray]] = []  # (row, hash, input) still to run

    def flush() -> None:
        feats = net(np.stack([p[2] for p in pending]))
        for (row, digest, _), f in zip(pending, feats, strict=True):
            rows[row] = f
            if store:
                with atomic_output(store / f"{digest}.npy") as tmp, tmp.open("wb") as out:
                    np.save(out, f.astype(np.float32))  # what the network computed: lossless
        pending.clear()

    if store:
        store.mkdir(parents=True, exist_ok=True)
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="features") as pool,
        progress_bar(f"Inception features: {label}", len(files), "image", progress) as advance,
    ):
        for path, (digest, hit, value) in bounded_map(pool, read, files, in_flight=2 * net.batch_size):
            advance()
            if isinstance(value, str):
                result.skipped.append((path, value))
                log.warning("skipping %s: %s", path, value)
                continue
            result.files.append(path)
            rows.append(hit)
            if hit is not None:
                result.cached += 1
            else:
                pending.append((len(rows) - 1, digest, value))
                if len(pending) == net.batch_size:
                    flush()
    if pending:
        flush()
    if rows:
        result.features = np.stack(rows)  # type: ignore[arg-type]
    return result
