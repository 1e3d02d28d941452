"""``wsolkit list``: what is registered, from which package, and whether it loads."""

from __future__ import annotations

import json
from enum import Enum

import typer

from wsolkit.cli._app import app, out_console


class Kind(str, Enum):
    backbones = "backbones"
    methods = "methods"
    datasets = "datasets"


@app.command("list")
def list_plugins(
    kind: Kind | None = typer.Argument(
        None, help="backbones, methods or datasets (default: all three)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List registered backbones, methods and datasets with their package and status.

    A plugin that fails to import is listed with status **failed** and its error;
    nothing else is affected.

    Examples: `wsolkit list methods`, `wsolkit list --json`.
    """
    from wsolkit.registry import REGISTRIES
    from wsolkit.report.tables import plugin_table

    kinds = [kind.value] if kind else list(REGISTRIES)
    listing = {k: REGISTRIES[k].describe_all() for k in kinds}
    if as_json:
        payload = {k: [info.__dict__ for info in infos] for k, infos in listing.items()}
        out_console.print_json(json.dumps(payload, default=str))
        return
    for k, infos in listing.items():
        out_console.print(plugin_table(k, infos))
    failed = sum(info.status != "ok" for infos in listing.values() for info in infos)
    if failed:
        out_console.print(
            f"[yellow]{failed} plugin(s) failed to load (see the status column); "
            "every other plugin works as usual.[/]"
        )
