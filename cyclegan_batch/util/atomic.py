"""Write-then-rename: an output exists under its final name only when complete."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path


def temp_path_for(path: Path) -> Path:
    """A hidden, unique name in the same folder (so the final os.replace is atomic), same suffix."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` on success, delete it on any error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


STALE_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part(\.[^.]+)?$")  # temp_path_for's names


def remove_stale_parts_under(folder: Path) -> int:
    """Delete the temporary files killed writers left anywhere under `folder`; returns how many.

    Only for a folder no other process is writing into (use `remove_stale_parts_of` for one output).
    """
    removed = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            if STALE_PART.match(name):
                Path(parent, name).unlink(missing_ok=True)
                removed += 1
    return removed


def remove_stale_parts_of(path: Path) -> None:
    """Delete the temporary files a killed writer of `path` left beside it (other outputs' stay)."""
    for part in path.parent.glob(f".{path.stem}.????????.part{path.suffix}"):
        part.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
