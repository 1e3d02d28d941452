"""The one progress bar of the CLI: a :class:`wsolkit.progress.Progress` drawn with rich."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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
from wsolkit.progress import Progress as ProgressCallback
from wsolkit.progress import no_progress


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``412 images/s`` (blank until rich has a speed estimate)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "", style="progress.data.speed")


@contextlib.contextmanager
def progress_bar(label: str, unit: str = "images") -> Iterator[ProgressCallback]:
    """Yield ``progress(done, total, phase="")`` drawing a bar on stderr (nothing when stderr
    is not a terminal). Each phase gets its own bar, named by the phase or by ``label``."""
    if not err_console.is_terminal:
        yield no_progress
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(done: int, total: int, phase: str = "") -> None:
            name = phase or label
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        yield update
