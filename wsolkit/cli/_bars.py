"""A counting progress bar for library callbacks of the form ``progress(done, total)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from wsolkit.cli._app import err_console


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``412 images/s`` (blank until rich has a speed estimate)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "", style="progress.data.speed")


@contextlib.contextmanager
def counting_bar(label: str, unit: str = "images") -> Iterator[Callable[[int, int], None]]:
    """Yield ``progress(done, total)``; a rich bar on a terminal, silent otherwise."""
    if not err_console.is_terminal:
        yield lambda done, total: None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
