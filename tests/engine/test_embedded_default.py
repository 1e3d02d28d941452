"""`wsolkit train` with no dataset: the embedded synthetic benchmark, generated into the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.engine.setup import resolve_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _use_the_module_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One cache for the module's tests: the embedded data is generated once."""
    monkeypatch.setenv("WSOLKIT_CACHE", str(cache))


def test_default_train_path_on_a_reduced_size(cache, tmp_path) -> None:
    # One epoch on the 500 val images instead of the 4,000 train images: the same path.
    args = [
        "train",
        "--epochs",
        "1",
        "--set",
        "data.train_split=val",
        "--out-dir",
        str(tmp_path),
        "--run-name",
        "d",
        "--quiet",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "synthetic · tiny · aligned-eil" in result.stdout  # the result table
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    s = summary["settings"]
    assert (s["model"]["backbone"], s["model"]["weights"], s["method"]["name"]) == (
        "tiny",
        "synthetic-pretrained",
        "aligned-eil",
    )
    assert s["optim"]["lr"] == 0.01
    assert s["method"]["lambda_drop"] == 3.0 and s["optim"]["lr_schedule"] == "onecycle"
    assert (
        s["data"]["dataset"] == "synthetic" and s["data"]["eval_size"] == 64
    )  # native size, recorded
    assert Path(s["data"]["root"]).is_relative_to(cache)
    assert summary["test"]["last"]["images"] == 1000
    assert {"localization", "mask"} <= set(summary["test"]["last"])  # boxes and masks both apply


def test_the_weights_flag_overrides_the_recipe_s_pretrained_weights(cache, tmp_path) -> None:
    args = ["train", "--epochs", "1", "--set", "data.train_split=val", "--method", "cam"]
    args += ["--out-dir", str(tmp_path), "--run-name", "pre", "--quiet"]
    result = runner.invoke(app, [*args, "--weights", "none"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "pre" / "summary.json").read_text())
    assert summary["settings"]["model"]["weights"] == "none"  # the flag overrides the recipe
    assert summary["test"]["last"]["images"] == 1000

    typo = runner.invoke(app, [*args[:-3], "--run-name", "typo", "--weights", "synthetic"])
    assert typo.exit_code != 0
    assert "--weights synthetic-pretrained" in typo.output
    assert "Traceback" not in typo.output
    assert not (tmp_path / "typo" / "checkpoints").exists()


def test_method_flag_picks_its_recipe_and_reuses_the_cached_data(cache) -> None:
    cam = resolve_settings(None, {"method.name": "cam"})
    assert cam.method.name == "cam" and cam.method.params == {} and cam.optim.warm_epochs == 0
    default = resolve_settings(None, {})
    assert default.method.name == "aligned-eil" and default.optim.warm_epochs == 5
    assert cam.data.root == default.data.root and len(list((cache / "datasets").iterdir())) == 1
    other = resolve_settings(None, {"method.name": "has"})  # no recipe of its own: CAM's schedule
    assert other.method.name == "has" and other.optim.epochs == 16


@pytest.mark.slow
def test_full_default_run(cache, tmp_path) -> None:
    result = runner.invoke(
        app, ["train", "--out-dir", str(tmp_path), "--run-name", "full", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["epochs"] == 16
    best = summary["test"]["best"]
    assert best["top1"] > 85  # the head decides the class in 95% of images
    assert best["localization"]["max_box_acc"]["30"] > 90
