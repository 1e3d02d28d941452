"""``wsolkit train`` (the training engine lands with its own issue)."""

from __future__ import annotations

import typer

from wsolkit.cli._app import app
from wsolkit.errors import NotImplementedYet


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(ctx: typer.Context) -> None:
    """Train a WSOL model (not implemented yet)."""
    raise NotImplementedYet("`wsolkit train` is not implemented yet (training-engine issue)")
