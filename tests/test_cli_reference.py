"""docs/cli.md is generated from every command's --help; this test fails when it drifts.

Refresh it after changing a command: ``WSOLKIT_REGEN_DOCS=1 python -m pytest tests/test_cli_reference.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[1] / "docs" / "cli.md"
COMMANDS = [
    [],
    ["list"],
    ["prepare"],
    ["prepare", "cub"],
    ["prepare", "imagenet"],
    ["prepare", "openimages"],
    ["prepare", "folder"],
    ["prepare", "synthetic"],
    ["train"],
    ["export-cams"],
    ["eval"],
    ["cams"],
    ["cams", "import-scoremaps"],
    ["cams", "export-npy"],
    ["cams", "info"],
    ["compare"],
]

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


def render() -> str:
    """The reference: one section per command, its --help at a fixed width, no colour."""
    import json

    env = {
        **os.environ,
        "TERMINAL_WIDTH": "100",
        "_TYPER_FORCE_DISABLE_TERMINAL": "1",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", RENDER, json.dumps(COMMANDS)],
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
        "(refresh with `WSOLKIT_REGEN_DOCS=1 python -m pytest tests/test_cli_reference.py`).",
    ]
    for command in COMMANDS:
        name = " ".join(["wsolkit", *command])
        text = "\n".join(line.rstrip() for line in helps[" ".join(command)].splitlines()).strip()
        parts += ["", f"## `{name}`", "", "```text", text, "```"]
    return "\n".join(parts) + "\n"


def test_cli_reference_is_current() -> None:
    text = render()
    if os.environ.get("WSOLKIT_REGEN_DOCS") == "1":
        DOC.write_text(text, encoding="utf-8")
    assert DOC.is_file(), "docs/cli.md is missing: run with WSOLKIT_REGEN_DOCS=1"
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/cli.md is out of date: refresh it with "
        "WSOLKIT_REGEN_DOCS=1 python -m pytest tests/test_cli_reference.py"
    )
