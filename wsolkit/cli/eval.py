"""``wsolkit eval`` (lands with the metrics issue)."""

from __future__ import annotations

import typer

from wsolkit.cli._app import app
from wsolkit.errors import NotImplementedYet


@app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def evaluate(ctx: typer.Context) -> None:
    """Evaluate score maps or a CAM store (not implemented yet)."""
    raise NotImplementedYet("`wsolkit eval` is not implemented yet (metrics issue)")
