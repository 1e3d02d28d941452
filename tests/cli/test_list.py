"""``wsolkit list`` with the fourth kind, score-map extractors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from wsolkit.cli import app

runner = CliRunner()
BUILTIN_EXTRACTORS = {
    "bagcams",
    "cam",
    "eigen-cam",
    "grad-cam",
    "grad-cam++",
    "layer-cam",
    "score-cam",
    "xgrad-cam",
}


def test_list_shows_all_five_kinds() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.output)) == [
        "backbones",
        "methods",
        "datasets",
        "extractors",
        "loggers",
    ]
    table = runner.invoke(app, ["list"]).output
    assert "extractors (" in table and "bagcams" in table
    assert "loggers (" in table and "tensorboard" in table and "mlflow" in table


def test_list_extractors_as_json_with_details() -> None:
    result = runner.invoke(app, ["list", "extractors", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert list(listing) == ["extractors"]
    plugins = {p["name"]: p for p in listing["extractors"]}
    assert set(plugins) >= BUILTIN_EXTRACTORS
    for name in BUILTIN_EXTRACTORS:
        assert plugins[name]["status"] == "ok" and plugins[name]["package"] == "wsolkit"
        assert plugins[name]["description"]
    assert plugins["grad-cam"]["details"]["needs_gradients"] is True
    assert plugins["cam"]["details"]["needs_gradients"] is False
    assert plugins["bagcams"]["details"]["default_stage"].startswith("resnet50: layer3")
    chunk = plugins["score-cam"]["details"]["hyperparameters"][0]
    assert (chunk["name"], chunk["default"], chunk["range"]) == ("chunk_size", 32, "[1, inf)")


def test_list_extractors_as_a_table() -> None:
    result = runner.invoke(app, ["list", "extractors"])
    assert result.exit_code == 0, result.output
    assert "extractors (" in result.output and "grad-cam++" in result.output
    assert "methods (" not in result.output and "backbones (" not in result.output
