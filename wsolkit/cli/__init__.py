"""The ``wsolkit`` command-line app: one module per command, joined here.

Commands parse arguments, call the library and render its result objects;
they never hold the logic themselves.
"""

from __future__ import annotations

from wsolkit.cli import (  # noqa: F401  (importing registers the commands)
    cams,
    compare,
    eval,
    export,
    list_cmd,
    prepare,
    train,
)
from wsolkit.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app(prog_name="wsolkit")


__all__ = ["app", "main"]
