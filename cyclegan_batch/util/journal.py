"""Append-only JSON-lines journals that survive a kill: what a stage finished before it was stopped.

Each entry is one line written and flushed whole, so a kill can only cut the last line short; reading
skips such a line. The stage folds the entries into its real output at the end and removes the journal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, in order; lines a kill cut short (or anything else) are skipped."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            yield entry


class Journal:
    """Open for appending on the first entry; `remove` when its entries are safely elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
