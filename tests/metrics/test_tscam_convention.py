"""TS-CAM's localization convention (``wsolkit eval --ts-cam-tau``): its box, box scaling and
IoU rules on hand-built cases, and the CLI on a tiny run."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.metadata import SplitMetadata
from wsolkit.metrics.boxes import contour_boxes, inclusive_iou
from wsolkit.metrics.tscam import (
    TsCamLocalization,
    tscam_box,
    tscam_gt_boxes,
    tscam_scoremap,
)

runner = CliRunner()


def _block(size: int, rows: slice, cols: slice) -> np.ndarray:
    cam = np.zeros((size, size), np.float32)
    cam[rows, cols] = 3.0  # raw values: any scale, min-max normalized
    return cam


def test_the_box_is_the_largest_contour_s_rect_unclipped() -> None:
    cam = _block(32, slice(4, 10), slice(20, 32))  # touches the right edge
    cam[20:22, 0:3] = 3.0  # a smaller second blob
    scoremap = tscam_scoremap(cam, 32)  # same size: the resize is the identity
    assert tscam_box(scoremap, 0.5) == (20, 4, 32, 10)  # x + w = 32: not clipped at 31
    binary = (scoremap >= 0.5).astype(np.uint8)
    # wsolevaluation (wsolkit's protocol) clips the same contour at W − 1
    assert tuple(contour_boxes(binary, multi_contour=False)[0]) == (20, 4, 31, 10)
    assert tscam_box(np.zeros((32, 32), np.float32), 0.1) == (0, 0, 1, 1)  # no contour


def test_the_resize_is_bilinear_and_float32() -> None:
    cam = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    out = tscam_scoremap(cam, 4)
    assert out.dtype == np.float32
    # bilinear (half-pixel centres): the corner values repeat, the inner ones interpolate
    assert out[0, 0] == 0.0 and out[0, 3] == 1.0 and out[1, 1] == pytest.approx(0.375)
    assert out.min() == 0.0 and out.max() == 1.0  # no bicubic overshoot to normalize away


def test_gt_boxes_are_divided_first_then_truncated_and_clipped() -> None:
    boxes = tscam_gt_boxes([(10, 20, 500, 375)], (500, 375), 224)
    assert boxes.tolist() == [[4, 11, 223, 223]]  # 10/500·224 = 4.48; x1 clipped


def test_iou_uses_the_inclusive_pixel_convention() -> None:
    gt = np.array([[0, 0, 21, 10]])  # TS-CAM's cal_iou is wsolevaluation's +1 IoU
    assert inclusive_iou(np.array([[0, 0, 10, 10]]), gt).max() == 0.5  # 11·11 / (22·11)
    assert inclusive_iou(np.array([[30, 30, 31, 31]]), gt).max() == 0.0


def test_gt_known_counts_iou_0_5_but_top1_and_top5_loc_need_more() -> None:
    ids = ["a.png", "b.png", "c.png"]
    # 64×64 images on a 32 grid: every coordinate halves exactly
    meta = SplitMetadata(
        ids,
        dict.fromkeys(ids, 0),
        dict.fromkeys(ids, (64, 64)),
        boxes={i: [(0, 0, 42, 20)] for i in ids},  # → (0, 0, 21, 10) on the grid
    )
    evaluation = TsCamLocalization(meta, tau=0.5, size=32)
    exact = _block(32, slice(0, 10), slice(0, 10))  # box (0, 0, 10, 10): IoU exactly 0.5
    better = _block(32, slice(0, 10), slice(0, 20))  # box (0, 0, 20, 10): IoU 231/242
    evaluation.accumulate(exact, "a.png", [0, 1, 2, 3, 4])  # right class, IoU = 0.5
    evaluation.accumulate(better, "b.png", [1, 0, 2, 3, 4])  # top-5 only, IoU > 0.5
    evaluation.accumulate(better, "c.png", [0, 1, 2, 3, 4])  # right class, IoU > 0.5
    scores = evaluation.compute()
    assert scores.images == 3
    assert scores.gt_known_loc == pytest.approx(100.0)  # ≥ 0.5 counts
    assert scores.top1 == pytest.approx(200 / 3) and scores.top5 == pytest.approx(100.0)
    assert scores.top1_loc == pytest.approx(100 / 3)  # only c: a's 0.5 is not > 0.5
    assert scores.top5_loc == pytest.approx(200 / 3)  # b and c
    with pytest.raises(ValueError, match="tau must lie in"):
        TsCamLocalization(meta, tau=1.5)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic
    from wsolkit.engine.api import train

    root = tmp_path_factory.mktemp("tscam")
    prepare_synthetic(root / "data", seed=6, train=32, val=8, test=16, image_size=32, classes=4)
    assert train(overrides=tiny_overrides(root / "data", root / "runs")) is not None
    return root / "runs" / "r"


def test_eval_reports_ts_cam_s_numbers_beside_the_protocol_s(run, tmp_path) -> None:
    run = Path(shutil.copytree(run, tmp_path / "r"))
    result = runner.invoke(app, ["eval", str(run), "--device", "cpu", "--ts-cam-tau", "0.1",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    ts_cam = out["ts_cam"]
    assert ts_cam["convention"] == "ts-cam" and ts_cam["tau"] == 0.1 and ts_cam["images"] == 16
    assert ts_cam["top1"] == pytest.approx(out["top1"])  # the same predictions
    assert ts_cam["top1_loc"] <= ts_cam["gt_known_loc"] and ts_cam["top1_loc"] <= ts_cam["top1"]
    store = run / "eval-test-best.h5"
    again = runner.invoke(app, ["eval", "--cams", str(store), "--ts-cam-tau", "0.1", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["ts_cam"] == ts_cam  # from the store alone
    table = runner.invoke(app, ["eval", "--cams", str(store), "--ts-cam-tau", "0.1"])
    assert "TS-CAM's convention at τ 0.1" in table.stdout
    # compare: the run's best row from the CAMs eval cached; its last row has none yet
    listed = runner.invoke(app, ["compare", str(run), "--ts-cam-tau", "0.1", "--csv"])
    assert listed.exit_code == 0, listed.output
    rows = {r["checkpoint"]: r for r in csv.DictReader(io.StringIO(listed.stdout))}
    assert rows["best"]["ts_cam_gt_known_loc"] == f"{ts_cam['gt_known_loc']:.2f}"
    assert rows["best"]["ts_cam_top1_loc"] == f"{ts_cam['top1_loc']:.2f}"
    assert rows["last"]["ts_cam_top1_loc"] == ""
    assert "no raw CAMs for TS-CAM's numbers" in listed.stderr
    plain = runner.invoke(app, ["compare", str(run), "--csv"])  # without the flag: no columns
    assert "ts_cam" not in plain.stdout.splitlines()[0]
    shown = runner.invoke(app, ["compare", str(store), "--ts-cam-tau", "0.1"])
    assert "TS·GT" in shown.stdout and "TS-CAM's own" in shown.stdout


def test_ts_cam_numbers_need_raw_maps(tmp_path) -> None:
    result = runner.invoke(
        app, ["eval", "--scoremaps", str(tmp_path), "--metadata", str(tmp_path),
              "--ts-cam-tau", "0.1"],
    )  # fmt: skip
    assert result.exit_code == 2  # a usage error, before anything is read
    assert "--ts-cam-tau needs raw CAMs" in result.output
