"""``wsolkit export-cams`` (lands with the CAM-store issue)."""

from __future__ import annotations

import typer

from wsolkit.cli._app import app
from wsolkit.errors import NotImplementedYet


@app.command(
    "export-cams", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def export_cams(ctx: typer.Context) -> None:
    """Compute CAMs once and cache them in an HDF5 store (not implemented yet)."""
    raise NotImplementedYet("`wsolkit export-cams` is not implemented yet (CAM-store issue)")
