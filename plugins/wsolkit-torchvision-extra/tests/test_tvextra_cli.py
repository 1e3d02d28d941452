"""The plugin seen through wsolkit's CLI: `wsolkit list` and a 1-epoch `wsolkit train` on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip(
    "wsolkit_torchvision_extra",
    reason="install the plugin: pip install -e plugins/wsolkit-torchvision-extra",
)

from typer.testing import CliRunner  # noqa: E402
from wsolkit.cli import app  # noqa: E402

PACKAGE = "wsolkit-torchvision-extra"
runner = CliRunner()


def test_list_shows_the_plugin_and_its_package() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    rows = {(kind, r["name"]): r for kind, infos in listing.items() for r in infos}
    for key in (("backbones", "mobilenet_v3_large"), ("backbones", "efficientnet_b0")):
        row = rows[key]
        assert (row["package"], row["status"]) == (PACKAGE, "ok"), row
        assert row["details"]["feature_map_at_224"] == "14×14"
    hirescam = rows[("extractors", "hirescam")]
    assert (hirescam["package"], hirescam["status"]) == (PACKAGE, "ok")
    assert hirescam["details"]["needs_gradients"] is True
    assert ("methods", "grad-cam") not in rows  # wsolkit's grad-cam extractor replaced it
    table = runner.invoke(app, ["list", "backbones"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "mobilenet_v3_large │ wsolkit-torchvision-extra" in table.output


@pytest.fixture(scope="module")
def synthetic_128(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`wsolkit prepare synthetic` at 128 px: an 8×8 last feature map at stride 16."""
    out = tmp_path_factory.mktemp("tvextra") / "synthetic"
    args = ["prepare", "synthetic", str(out), "--train", "32", "--val", "8", "--test", "8"]
    result = runner.invoke(app, [*args, "--image-size", "128", "--classes", "4"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbone", "method"),
    [
        ("mobilenet_v3_large", "aligned-eil"),
        ("efficientnet_b0", "aligned-eil"),
    ],
)
def test_train_one_epoch_on_cpu(
    backbone: str, method: str, synthetic_128: Path, tmp_path: Path
) -> None:
    """`wsolkit train … --epochs 1 --weights none --device cpu` at the data's 128 px.

    The synthetic recipe trains at 64 px (4×4 maps for these stride-16 backbones), so
    resize and crop are set to the prepared images' size.
    """
    args = ["train", "--backbone", backbone, "--data", str(synthetic_128), "--method", method]
    args += ["--epochs", "1", "--weights", "none", "--device", "cpu", "--workers", "0"]
    args += ["--batch-size", "16", "--out-dir", str(tmp_path), "--quiet"]
    args += ["--set", "data.resize_size=128", "--set", "data.crop_size=128"]
    args += ["--set", "eval.cam_curve_interval=0.01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["settings"]["model"]["backbone"] == backbone
    assert summary["settings"]["data"]["crop_size"] == summary["settings"]["data"]["eval_size"]
    assert summary["epochs"] == 1
    last = summary["test"]["last"]
    assert last["images"] == 8 and 0 <= last["score"] <= 100, last


@pytest.mark.slow
def test_export_cams_with_the_plugin_s_extractor(synthetic_128: Path, tmp_path: Path) -> None:
    """A 1-epoch `tiny` run, then `wsolkit export-cams --extractor hirescam --stage conv3`."""
    args = ["train", "--backbone", "tiny", "--data", str(synthetic_128), "--method", "cam"]
    args += ["--epochs", "1", "--weights", "none", "--device", "cpu", "--workers", "0"]
    args += ["--out-dir", str(tmp_path), "--quiet", "--set", "eval.cam_curve_interval=0.05"]
    assert runner.invoke(app, args).exit_code == 0
    (run,) = tmp_path.iterdir()
    result = runner.invoke(
        app, ["export-cams", str(run), "--extractor", "hirescam", "--stage", "conv3"]
    )
    assert result.exit_code == 0, result.output
    store = run / "cams-test-best-hirescam-conv3.h5"
    evaluated = runner.invoke(app, ["eval", "--cams", str(store), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert 0 <= json.loads(evaluated.stdout)["max_box_acc_v2"] <= 100
