"""``wsolkit prepare synthetic`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.metadata import read_split
from wsolkit.data.spec import read_manifest

runner = CliRunner()
SMALL = ["--train", "20", "--val", "10", "--test", "10"]


def test_generates_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    result = runner.invoke(app, ["prepare", "synthetic", str(out), *SMALL, "--seed", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split("│")[1:4] == [" train ", "     20 ", "      10 "] for line in lines), (
        lines
    )
    assert "(use it as data.root): 40 images in" in result.stdout
    assert "head masks in parts/" in result.stdout
    manifest = read_manifest(out)
    assert manifest.dataset == "synthetic" and manifest.splits == {
        "train": 20,
        "val": 10,
        "test": 10,
    }
    assert "data seed 3" in manifest.notes[0]
    assert len(read_split(out / "test", num_classes=10, require_localization=True)) == 10


def test_json_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", "synthetic", str(tmp_path / "s"), *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dataset"] == "synthetic" and data["annotation"] == "boxes"
    assert data["splits"]["train"] == {"images": 20, "classes": 10, "boxes": 20}


def test_refuses_a_non_empty_folder_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    assert runner.invoke(app, ["prepare", "synthetic", str(out), *SMALL]).exit_code == 0
    before = (out / "images" / "train" / "000000.png").read_bytes()

    result = runner.invoke(app, ["prepare", "synthetic", str(out), *SMALL, "--seed", "1"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Error:" in result.stderr
    assert "is not empty; pass --overwrite" in result.stderr
    assert (out / "images" / "train" / "000000.png").read_bytes() == before

    result = runner.invoke(
        app, ["prepare", "synthetic", str(out), *SMALL, "--seed", "1", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "images" / "train" / "000000.png").read_bytes() != before


def test_out_of_range_options_are_usage_errors(tmp_path: Path) -> None:
    for option in (["--image-size", "16"], ["--classes", "1"], ["--train", "0"]):
        result = runner.invoke(app, ["prepare", "synthetic", str(tmp_path / "x"), *option])
        assert result.exit_code == 2, (option, result.output)
    assert not (tmp_path / "x").exists()


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["prepare", "synthetic", "--help"])
    assert result.exit_code == 0
    assert "Example: wsolkit prepare synthetic" in result.output
    for option in (
        "--seed",
        "--train",
        "--val",
        "--test",
        "--image-size",
        "--classes",
        "--overwrite",
    ):
        assert option in result.output
