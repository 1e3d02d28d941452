"""``wsolkit eval --scoremaps … --metadata …`` end to end, and every bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.metadata import read_split
from wsolkit.metrics import BoxEvaluator, EvalProtocol, FolderSource, ScoremapFolder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from metric_cases import make_box_split, make_mask_split  # noqa: E402

runner = CliRunner()


def _eval(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["eval", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def box_split(tmp_path: Path) -> tuple[Path, Path]:
    meta, maps, _ = make_box_split(tmp_path, images=8, seed=4, size=48)
    return meta, maps


def test_json_is_one_object_with_the_spec_keys(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    code, out, _ = _eval(
        "--scoremaps",
        str(maps),
        "--metadata",
        str(meta),
        "--eval-size",
        "48",
        "--cam-curve-interval",
        "0.01",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data["max_box_acc"]) == {"30", "50", "70"} == set(data["best_threshold"])
    assert data["images"] == 8 and len(data["curves"]["box_acc"]["50"]) == 100
    # The same numbers as the library, to the last digit.
    split = read_split(meta, require_localization=True)
    evaluator = BoxEvaluator(split, EvalProtocol(eval_size=48, cam_curve_interval=0.01))
    source = FolderSource(ScoremapFolder.scan(maps, split.image_ids), 48)
    for image_id in split.image_ids:
        evaluator.accumulate(source.load(image_id), image_id)
    expected = evaluator.compute()
    assert data["max_box_acc_v2"] == expected.max_box_acc_v2
    assert data["best_threshold"] == {str(k): v for k, v in expected.best_threshold.items()}


def test_table_single_contour_and_iou_levels(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    code, out, _ = _eval(
        "--scoremaps",
        str(maps),
        "--metadata",
        str(meta),
        "--eval-size",
        "48",
        "--cam-curve-interval",
        "0.05",
        "--single-contour",
        "--iou-thresholds",
        "50",
    )
    assert code == 0
    assert "MaxBoxAcc @ IoU 50" in out and "single contour" in out and "IoU 30" not in out


def test_stem_layout_and_extra_files_note(tmp_path: Path) -> None:
    meta, maps, _ = make_box_split(tmp_path, images=3, seed=2, size=32, layout="stem")
    np.save(maps / "unrelated.npy", np.zeros((32, 32)))
    code, out, _ = _eval(
        "--scoremaps",
        str(maps),
        "--metadata",
        str(meta),
        "--eval-size",
        "32",
        "--cam-curve-interval",
        "0.1",
    )
    assert code == 0 and "ignored 1 .npy file(s)" in out and "unrelated.npy" in out


def test_plot_writes_a_figure(box_split: tuple[Path, Path], tmp_path: Path) -> None:
    meta, maps = box_split
    figure = tmp_path / "curves.png"
    code, _, _ = _eval(
        "--scoremaps",
        str(maps),
        "--metadata",
        str(meta),
        "--eval-size",
        "48",
        "--cam-curve-interval",
        "0.1",
        "--plot",
        str(figure),
    )
    assert code == 0 and figure.read_bytes()[:4] == b"\x89PNG"


def test_mask_split_gives_pxap(tmp_path: Path) -> None:
    meta, masks, maps = make_mask_split(tmp_path, images=4, seed=1, size=32)
    code, out, _ = _eval(
        "--scoremaps",
        str(maps),
        "--metadata",
        str(meta),
        "--mask-root",
        str(masks),
        "--eval-size",
        "32",
        "--cam-curve-interval",
        "0.01",
        "--json",
    )
    assert code == 0 and 0 <= json.loads(out)["pxap"] <= 100
    code, _, err = _eval("--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "32")
    assert code == 1 and "needs --mask-root" in err


def test_a_split_of_a_prepared_folder_finds_its_masks_in_dataset_yaml(tmp_path: Path) -> None:
    from wsolkit.data.spec import DatasetManifest, write_manifest

    meta, masks, maps = make_mask_split(tmp_path, images=4, seed=2, size=32)
    args = ["--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "32", "--json"]
    code, explicit, _ = _eval(*args, "--mask-root", str(masks))
    assert code == 0
    manifest = DatasetManifest(
        dataset="folder", num_classes=3, annotation="masks", image_root="images",
        mask_root=masks.name,
    )  # fmt: skip
    write_manifest(meta.parent, manifest)  # the split is now PREPARED/meta
    code, recorded, err = _eval(*args)
    assert code == 0, err
    assert json.loads(recorded)["pxap"] == json.loads(explicit)["pxap"]


@pytest.mark.slow
def test_workers_give_the_same_json(tmp_path: Path) -> None:
    meta, maps, _ = make_box_split(tmp_path, images=70, seed=6, size=32)
    args = ["--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "32", "--json"]
    one = json.loads(_eval(*args)[1])
    two = json.loads(_eval(*args, "--workers", "2")[1])
    assert one == two


# --- bad input: one red line naming the file, non-zero exit, no traceback ----------------


def _break(maps: Path, array: np.ndarray) -> Path:
    victim = sorted(maps.rglob("*.npy"))[0]
    np.save(victim, array)
    return victim


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((48, 48, 3)), "score map must be 2-D"),
        (np.zeros((40, 48)), "is 40x48, expected 48x48"),
        (np.full((48, 48), 1.5), r"values must lie in [0, 1]"),
        (np.zeros((48, 48), np.int32), "dtype int32"),
    ],
)
def test_bad_map_names_the_file(
    box_split: tuple[Path, Path], array: np.ndarray, message: str
) -> None:
    meta, maps = box_split
    victim = _break(maps, array)
    code, _, err = _eval("--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "48")
    assert code == 1 and message in err and victim.name in err
    assert len(err.strip().splitlines()) == 1 or "Error:" in err.splitlines()[0]


def test_nan_maps_are_counted_and_rejected(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    for victim in sorted(maps.rglob("*.npy"))[:2]:
        nan = np.zeros((48, 48))
        nan[0, 0] = np.nan
        np.save(victim, nan)
    code, _, err = _eval("--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "48")
    assert code == 1 and "2 score map(s) hold NaN" in err and "normalize_scoremap" in err


def test_missing_maps_are_listed(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    for victim in sorted(maps.rglob("*.npy"))[:3]:
        victim.unlink()
    code, _, err = _eval("--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "48")
    assert code == 1 and "3 of 8 image ids have no score map" in err and "e.g." in err


def test_image_without_box_names_the_line(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    lines = (meta / "localization.txt").read_text().splitlines()
    second = (meta / "image_ids.txt").read_text().splitlines()[1]
    (meta / "localization.txt").write_text(
        "".join(line + "\n" for line in lines if not line.startswith(second + ","))
    )
    code, _, err = _eval("--scoremaps", str(maps), "--metadata", str(meta), "--eval-size", "48")
    assert code == 1 and "image_ids.txt:2" in err and "has no box" in err


def test_usage_errors_exit_2(box_split: tuple[Path, Path]) -> None:
    meta, maps = box_split
    base = ["--scoremaps", str(maps), "--metadata", str(meta)]
    assert _eval(*base, "--iou-thresholds", "30,abc")[0] == 2
    assert _eval(*base, "--iou-thresholds", "0,50")[0] == 2
    assert _eval(*base, "--cam-curve-interval", "1.5")[0] == 2
    code, _, err = _eval("--scoremaps", str(maps / "nope"), "--metadata", str(meta))
    assert code == 1 and "score map folder not found" in err


def test_eval_needs_exactly_one_source(tmp_path) -> None:
    from typer.testing import CliRunner

    from wsolkit.cli import app

    runner = CliRunner()
    for args in ([], ["--scoremaps", str(tmp_path), "--cams", str(tmp_path / "x.h5")]):
        result = runner.invoke(app, ["eval", *args])
        assert (
            result.exit_code == 2
            and "exactly one of RUN_DIR|CHECKPOINT, --scoremaps" in result.output
        )
    result = runner.invoke(app, ["eval", "--scoremaps", str(tmp_path)])
    assert result.exit_code == 2 and "needs --metadata" in result.output
