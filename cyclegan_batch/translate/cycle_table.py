"""An output folder's cycle.csv (columns in runfolder.IMAGE_CYCLE_COLUMNS) and the journal behind it.

Finished rows are appended to a journal as they come, so a killed run keeps them; `write` folds
everything into cycle.csv (atomically) and drops the journal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from cyclegan_batch import runfolder
from cyclegan_batch.translate.image_pipeline import ImageResult
from cyclegan_batch.util.atomic import atomic_write_text
from cyclegan_batch.util.journal import Journal, read_entries

JOURNAL_NAME = ".cycle.journal.jsonl"  # rows finished so far; folded into cycle.csv at the end


class CycleTable:
    """OUT/cycle.csv: rows by input path. Finished rows are appended to a journal as they come, so a
    killed run keeps them; `write` folds everything into cycle.csv (atomically) and drops the journal."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / runfolder.CYCLE_CSV
        self.journal = Journal(out_dir / JOURNAL_NAME)
        self.previous: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as f:
                self.previous = {row["input"]: row for row in csv.DictReader(f) if "input" in row}
        for row in read_entries(self.journal.path):
            if "input" in row:
                self.previous[row["input"]] = row

    def record(self, row: dict[str, str]) -> None:
        self.journal.append(row)

    def write(self, rows: Iterable[dict[str, str]]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(
            text, fieldnames=runfolder.IMAGE_CYCLE_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: row["input"]))
        atomic_write_text(self.path, text.getvalue())
        self.journal.remove()


def ok_row(rel: Path, out_rel: Path, result: ImageResult, note: str = "") -> dict[str, str]:
    metrics = result.metrics or {}
    return {
        "input": rel.as_posix(),
        "output": out_rel.as_posix(),
        "status": "ok",
        "reason": note,  # e.g. why the cycle metrics are empty
        "width": str(result.width),
        "height": str(result.height),
        **{name: runfolder.csv_number(metrics.get(name)) for name in ("l1", "psnr", "ssim")},
    }


def failed_row(rel: Path, reason: str) -> dict[str, str]:
    return {"input": rel.as_posix(), "status": "failed", "reason": reason}
