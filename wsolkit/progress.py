"""How long work reports how far it got: one protocol for the whole library.

Anything that takes a while accepts ``progress`` and calls ``progress(done, total)``
as it advances (``total`` 0 when not known yet). Work made of several phases names
each one: ``progress(done, total, "reading image sizes")``. The library never draws
anything; the CLI passes a bar (``wsolkit.cli._bars.progress_bar``), a notebook may
pass its own callable, and ``None`` means nobody is watching.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(done, total, label="")``: ``done`` of ``total`` items of phase ``label``."""

    def __call__(self, done: int, total: int, label: str = "") -> None: ...


def no_progress(done: int, total: int, label: str = "") -> None:
    """The :class:`Progress` that reports to nobody."""


def phase(progress: Progress | None, label: str) -> Progress:
    """``progress`` with every call labelled ``label`` (a no-op for ``None``)."""
    if progress is None:
        return no_progress

    def report(done: int, total: int, _: str = "") -> None:
        progress(done, total, label)

    return report
