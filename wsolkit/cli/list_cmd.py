"""``wsolkit list``: what is registered, from which package, and whether it loads."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum

import typer

from wsolkit.cli._app import _escape, command_app, err_console, out_console


class Kind(str, Enum):
    backbones = "backbones"
    methods = "methods"
    datasets = "datasets"
    extractors = "extractors"
    loggers = "loggers"


app = command_app()


@app.command("list")
def list_plugins(
    kind: Kind | None = typer.Argument(
        None, help="backbones, methods, datasets, extractors or loggers (default: all five)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    check: bool = typer.Option(
        False,
        "--check",
        help="Import every plugin to check that it loads, and refresh the cached descriptions.",
    ),
) -> None:
    """List registered backbones, methods, datasets, extractors and loggers with package and status.

    A plugin that fails to import is listed with status **failed** and its error;
    nothing else is affected.

    Descriptions are cached (in the cache folder, `WSOLKIT_CACHE`), so listing
    imports neither the plugins nor torch; a plugin is described again when its
    files or the installed packages change. `--check` imports every plugin.

    Examples: `wsolkit list methods`, `wsolkit list extractors --json`, `wsolkit list --check`.
    """
    from wsolkit.registry import plugin_listing

    listing = plugin_listing([kind.value] if kind else None, check=check)
    if listing.cache_error:
        err_console.print(
            f"[dim]note: the plugin cache was not written ({_escape(listing.cache_error)}); "
            "plugins are imported again at every listing.[/]"
        )
    if as_json:
        payload = {
            k: [dataclasses.asdict(info) for info in infos] for k, infos in listing.plugins.items()
        }
        out_console.print_json(json.dumps(payload, default=str))
        return
    from wsolkit.report.tables import plugin_table

    for k, infos in listing.plugins.items():
        out_console.print(plugin_table(k, infos))
    if listing.failed:
        out_console.print(
            f"[yellow]{listing.failed} plugin(s) failed to load (see the status column); "
            "every other plugin works as usual.[/]"
        )
    if listing.from_cache:
        out_console.print(
            f"[dim]{listing.from_cache} description(s) from the cache; "
            "`wsolkit list --check` imports every plugin.[/]"
        )
