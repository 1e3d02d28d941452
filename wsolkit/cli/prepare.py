"""``wsolkit prepare``: turn downloaded datasets into the standard metadata format.

Each subcommand calls a converter in :mod:`wsolkit.data.prepare` and prints
the summary table; the metadata and ``dataset.yaml`` are written atomically.
"""

from __future__ import annotations

import json

import typer

from wsolkit.cli._app import app, out_console
from wsolkit.data.spec import PrepareSummary

prepare_app = typer.Typer(
    help="Convert a downloaded dataset into wsolkit's metadata format (train/val/test folders "
    "and dataset.yaml).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(prepare_app, name="prepare")


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


# Subcommands live beside this module, one per dataset.
from wsolkit.cli import prepare_datasets, prepare_synthetic  # noqa: E402,F401
