"""How ``wsolkit prepare`` commands print a converter's summary (shared by them all)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from wsolkit.cli._app import out_console

if TYPE_CHECKING:
    from wsolkit.data.spec import PrepareSummary


def show_summary(summary: PrepareSummary, *, as_json: bool = False) -> None:
    """Print a converter's summary: JSON, or the table and its notes."""
    from wsolkit.report.tables import prepare_table

    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
        return
    out_console.print(prepare_table(summary))
    for note in summary.notes:
        out_console.print(f"[dim]note:[/] {note}")
    if summary.skipped:
        out_console.print(f"[yellow]skipped {summary.skipped} unreadable image(s)[/]")
