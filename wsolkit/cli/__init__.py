"""The ``wsolkit`` command-line app: one module per command, joined here.

Commands parse arguments, call the library and render its result objects;
they never hold the logic themselves. Each module builds its own Typer app;
this block is the one place that puts them together, in the order ``--help``
lists them.
"""

from __future__ import annotations

from wsolkit.cli import cams, compare, export, import_checkpoint, list_cmd, prepare, train
from wsolkit.cli import eval as eval_cmd
from wsolkit.cli._app import app

app.add_typer(prepare.app, name="prepare")
app.add_typer(train.app)
app.add_typer(export.app)
app.add_typer(eval_cmd.app)
app.add_typer(compare.app)
app.add_typer(import_checkpoint.app)
app.add_typer(cams.app, name="cams")
app.add_typer(list_cmd.app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="wsolkit")


__all__ = ["app", "main"]
