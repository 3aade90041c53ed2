"""One progress bar for every long loop: rate and ETA, silent under --quiet or when not on a TTY."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Advance = Callable[..., None]


class RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None, unit: str, enabled: bool, completed: int = 0
) -> Iterator[Advance]:
    """Yield `advance(n=1, status="", total=None)` (a new `total` re-sizes the bar); a no-op when disabled."""
    if not enabled:
        yield lambda n=1, status="", total=None: None
        return
    columns = [
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total, completed=completed, status="")

        def advance(n: int = 1, status: str = "", total: int | None = None) -> None:
            progress.update(task, advance=n, status=status, total=total)

        yield advance
