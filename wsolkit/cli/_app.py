"""The root Typer app and the one place where user errors become one red line."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from wsolkit.errors import WsolkitError

DEBUG_ENV = "WSOLKIT_DEBUG"

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


def debug_enabled() -> bool:
    """``--debug`` or ``WSOLKIT_DEBUG=1``: show full tracebacks of user errors too."""
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def print_error(message: str) -> None:
    """One red line on stderr."""
    err_console.print(f"[bold red]Error:[/] {message}", markup=True, highlight=False)


class WsolkitGroup(TyperGroup):
    """Root command group: a :class:`WsolkitError` anywhere below exits with one line."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WsolkitError as exc:
            if debug_enabled():
                raise
            print_error(_escape(str(exc)))
            ctx.exit(exc.exit_code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def command_app(**options: Any) -> typer.Typer:
    """A Typer app for one command module (or a group's), with the house settings: markdown
    help, ``-h``, no completion flags, no locals in tracebacks. ``wsolkit.cli`` joins them."""
    options.setdefault("rich_markup_mode", "markdown")
    return typer.Typer(
        pretty_exceptions_show_locals=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        **options,
    )


app = typer.Typer(
    name="wsolkit",
    cls=WsolkitGroup,
    help="Weakly supervised object localization: prepare data, train, export CAMs, "
    "evaluate and compare.\n\nStart with `wsolkit train` (the embedded synthetic benchmark) "
    "or `wsolkit list` (what is registered).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        from wsolkit import __version__

        out_console.print(f"wsolkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks, also for user errors (or WSOLKIT_DEBUG=1)."
    ),
) -> None:
    """wsolkit command-line interface."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


def stdout_is_terminal() -> bool:
    """True when progress bars make sense."""
    return sys.stdout.isatty()
