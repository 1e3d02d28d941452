from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from wsolkit import __version__
from wsolkit.cli import app
from wsolkit.cli._app import WsolkitGroup
from wsolkit.errors import MetadataError, UsageError

runner = CliRunner()
COMMANDS = ["prepare", "train", "eval", "export-cams", "compare", "list"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"wsolkit {__version__}"


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_root_help_lists_every_command() -> None:
    output = runner.invoke(app, ["--help"]).output
    for command in COMMANDS:
        assert command in output


def test_list_shows_builtins_with_package_and_status() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert set(listing) == {"backbones", "methods", "datasets", "extractors", "loggers"}
    names = {kind: {p["name"]: p for p in plugins} for kind, plugins in listing.items()}
    assert {"vgg16", "resnet50", "inception_v3", "tiny"} <= set(names["backbones"])
    assert {"cam", "aligned-eil", "bridging-gap"} <= set(names["methods"])
    assert names["datasets"]["cub"]["package"] == "wsolkit"
    for plugins in names.values():
        for plugin in plugins.values():
            assert plugin["status"] in ("ok", "failed")


def test_list_one_kind_as_table() -> None:
    result = runner.invoke(app, ["list", "methods"])
    assert result.exit_code == 0
    assert "methods" in result.output and "aligned-eil" in result.output
    assert "backbones" not in result.output


def test_list_rejects_an_unknown_kind() -> None:
    result = runner.invoke(app, ["list", "losses"])
    assert result.exit_code == 2


def test_broken_plugin_is_listed_as_failed_and_other_commands_work(fake_plugin) -> None:
    fake_plugin(
        "broken-wsol",
        {"wsolkit.backbones": {"brokenbone": "brokenbone_mod:Net"}},
        {"brokenbone_mod": "import not_a_module_anywhere\n"},
    )
    result = runner.invoke(app, ["list", "backbones", "--json"])
    assert result.exit_code == 0, result.output
    broken = next(p for p in json.loads(result.output)["backbones"] if p["name"] == "brokenbone")
    assert broken["status"] == "failed"
    assert broken["package"] == "broken-wsol"
    assert "No module named 'not_a_module_anywhere'" in broken["error"]
    table = runner.invoke(app, ["list", "backbones"])
    assert "brokenbone" in table.output and "failed" in table.output
    for command in COMMANDS:
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def _failing_app() -> typer.Typer:
    demo = typer.Typer(cls=WsolkitGroup)

    @demo.command()
    def boom() -> None:
        raise MetadataError("meta/train/class_labels.txt", 7, "label -1 is out of range")

    @demo.command()
    def usage() -> None:
        raise UsageError("--workers must be >= 1")

    @demo.command()
    def bug() -> None:
        raise ZeroDivisionError("a real bug")

    return demo


def test_user_errors_are_one_line_with_the_error_exit_code(monkeypatch) -> None:
    monkeypatch.delenv("WSOLKIT_DEBUG", raising=False)
    result = runner.invoke(_failing_app(), ["boom"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip() == (
        "Error: meta/train/class_labels.txt:7: label -1 is out of range"
    )
    result = runner.invoke(_failing_app(), ["usage"])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: --workers must be >= 1"


def test_debug_keeps_the_traceback_and_bugs_are_not_swallowed(monkeypatch) -> None:
    monkeypatch.setenv("WSOLKIT_DEBUG", "1")
    result = runner.invoke(_failing_app(), ["boom"])
    assert isinstance(result.exception, MetadataError)
    monkeypatch.delenv("WSOLKIT_DEBUG")
    result = runner.invoke(_failing_app(), ["bug"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_cli_import_does_not_import_torch() -> None:
    code = "import sys, wsolkit.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_list_with_a_warm_cache_does_not_import_torch() -> None:
    from wsolkit.registry import plugin_listing

    plugin_listing()  # warm the cache (this process may import torch)
    code = (
        "import sys\n"
        "from wsolkit.cli import app\n"
        "for args in (['list'], ['list', '--json']):\n"
        "    app(args, prog_name='wsolkit', standalone_mode=False)\n"
        "print('torch' in sys.modules, 'wsolkit.methods' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "False False", out.stderr
    assert "aligned-eil" in out.stdout and "description(s) from the cache" in out.stdout


def test_python_dash_m_runs_the_app() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wsolkit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"wsolkit {__version__}"


def _commands(command, path=()):
    """Every (path, click command) of the app, groups included."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_help_texts_keep_their_angle_bracket_placeholders() -> None:
    """rich's markdown mode eats ``<split>``-like words as HTML tags (``cams-<split>.h5``
    became ``cams-.h5``): every placeholder written in a help text must reach ``--help``."""
    import re

    import typer

    from wsolkit.cli import app as the_app

    root = typer.main.get_command(the_app)
    lost = []
    for path, command in _commands(root):
        texts = [command.help or "", command.epilog or ""]
        texts += [getattr(p, "help", None) or "" for p in command.params]
        placeholders = {m for text in texts for m in re.findall(r"<[A-Za-z_][^<>\n]*>", text)}
        if not placeholders:
            continue
        result = runner.invoke(the_app, [*path, "--help"])
        flat = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # no panel borders
        lost += [f"{' '.join(path)}: {p}" for p in placeholders if " ".join(p.split()) not in flat]
    assert not lost, f"placeholders lost in --help: {lost}"
