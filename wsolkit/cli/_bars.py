"""A counting progress bar for library callbacks of the form ``progress(done, total)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from wsolkit.cli._app import err_console


@contextlib.contextmanager
def counting_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yield ``progress(done, total)``; a rich bar on a terminal, silent otherwise."""
    if not err_console.is_terminal:
        yield lambda done, total: None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
