"""docs/cli.md is generated from every command's --help; these tests fail when it drifts.

The commands are read from the Typer app's click tree (every group and command,
depth first, in the order ``--help`` lists them; hidden ones left out), so a new
command fails until docs/cli.md has its section.

Refresh it after changing a command: ``WSOLKIT_REGEN_DOCS=1 python -m pytest tests/test_cli_reference.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

DOC = Path(__file__).parents[1] / "docs" / "cli.md"
REFRESH = "WSOLKIT_REGEN_DOCS=1 python -m pytest tests/test_cli_reference.py"


def command_paths() -> list[list[str]]:
    """``[[], ["list"], ["prepare"], ["prepare", "cub"], ...]``: the root and every command.

    Walks the click command tree that Typer builds from ``wsolkit.cli.app``: any
    command that has sub-commands (a group) is listed, then its sub-commands,
    in the order the group's ``--help`` shows them.
    """
    import typer

    from wsolkit.cli import app

    def walk(command: Any, path: list[str], parent: Any) -> list[list[str]]:
        ctx = typer.Context(command, info_name=" ".join(["wsolkit", *path]), parent=parent)
        paths = [path]
        for name in command.list_commands(ctx) if hasattr(command, "list_commands") else []:
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                paths += walk(sub, [*path, name], ctx)
        return paths

    return walk(typer.main.get_command(app), [], None)


RENDER = """
import json, sys
from typer.testing import CliRunner
from wsolkit.cli import app
runner = CliRunner()
out = {}
for command in json.loads(sys.argv[1]):
    result = runner.invoke(app, [*command, "--help"], prog_name="wsolkit")
    assert result.exit_code == 0, (command, result.output)
    out[" ".join(command)] = result.output
print(json.dumps(out))
"""


def render(commands: list[list[str]]) -> str:
    """The reference: one section per command, its --help at a fixed width, no colour."""
    env = {
        **os.environ,
        "TERMINAL_WIDTH": "100",
        "_TYPER_FORCE_DISABLE_TERMINAL": "1",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", RENDER, json.dumps(commands)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    helps = json.loads(done.stdout)
    parts = [
        "# Command-line reference",
        "",
        "Generated from `--help`; `tests/test_cli_reference.py` fails when it drifts "
        f"(refresh with `{REFRESH}`).",
    ]
    for command in commands:
        name = " ".join(["wsolkit", *command])
        text = "\n".join(line.rstrip() for line in helps[" ".join(command)].splitlines()).strip()
        parts += ["", f"## `{name}`", "", "```text", text, "```"]
    return "\n".join(parts) + "\n"


def test_cli_reference_is_current() -> None:
    text = render(command_paths())
    if os.environ.get("WSOLKIT_REGEN_DOCS") == "1":
        DOC.write_text(text, encoding="utf-8")
    assert DOC.is_file(), "docs/cli.md is missing: run with WSOLKIT_REGEN_DOCS=1"
    assert DOC.read_text(encoding="utf-8") == text, (
        f"docs/cli.md is out of date: refresh it with {REFRESH}"
    )


def test_every_command_has_a_section() -> None:
    """docs/cli.md has one section per command of the app, in the app's order, and no other."""
    expected = [" ".join(["wsolkit", *path]) for path in command_paths()]
    found = re.findall(r"^## `(wsolkit[^`]*)`$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    problems = []
    if missing := [c for c in expected if c not in found]:
        problems.append(f"no section for {', '.join(missing)}")
    if stale := [c for c in found if c not in expected]:
        problems.append(f"sections for {', '.join(stale)}, which the app does not have")
    if not problems and found != expected:
        problems.append(f"the sections are not in the app's order ({', '.join(expected)})")
    assert not problems, f"docs/cli.md: {'; '.join(problems)}. Refresh it with {REFRESH}"
