"""``wsolkit compare`` (lands with its own issue)."""

from __future__ import annotations

import typer

from wsolkit.cli._app import app
from wsolkit.errors import NotImplementedYet


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compare(ctx: typer.Context) -> None:
    """Compare runs and CAM stores side by side (not implemented yet)."""
    raise NotImplementedYet("`wsolkit compare` is not implemented yet (compare issue)")
