"""Numbers of the canonical evaluators, recomputed by wsolkit on the same cases.

The golden values below were produced by running clovaai/wsolevaluation's
``evaluation.py`` (BoxEvaluator, MaskEvaluator, inference.normalize_scoremap)
and ejkim47/bridging-gap-wsol's ``evaluation.py`` (BoxEvaluator with
``correct=`` for Top-1 Loc, ``compute(cam_threshold=...)``) on the cases that
``metric_cases.make_box_split`` / ``make_mask_split`` generate from these
seeds (reference code run outside the repository, OpenCV 5.0, numpy 2). The
tests regenerate the cases and recompute wsolkit's numbers; they must agree
exactly (``==`` on floats). ``counts`` fingerprints the canonical count
curves: (sum of counts, sum of counts × threshold index) per IoU level.

Regenerate with: ``python tests/parity/regenerate_metric_goldens.py
--wsolevaluation PATH --bridging-gap PATH`` (your own clones; it prints BOX,
PXAP and NORMALIZE_CHECKSUMS as laid out here). Add ``--check`` to compare the
reference code's numbers with these instead (exit status 1 on any difference).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metric_cases import PARITY_KINDS, make_box_split, make_mask_split

from wsolkit.data.metadata import read_split
from wsolkit.metrics import (
    BoxEvaluator,
    EvalProtocol,
    FolderSource,
    MaskEvaluator,
    ScoremapFolder,
    evaluate_scoremaps,
    normalize_scoremap,
)

BOX = {
    ("box", True, 0.001): {
        "max_box_acc": [28.125, 12.5, 3.125],
        "v2": 14.583333333333334,
        "best_threshold": [0.334, 0.424, 0.244],
        "top1_max": [25.0, 12.5, 3.125],
        "top1_at_gt_best": [18.75, 12.5, 0.0],
        "counts": {30: [5249, 2062876], 50: [1006, 415615], 70: [23, 5865]},
    },
    ("box", False, 0.001): {
        "max_box_acc": [18.75, 3.125, 0.0],
        "v2": 7.291666666666667,
        "best_threshold": [0.0, 0.35000000000000003, 0.0],
        "top1_max": [15.625, 3.125, 0.0],
        "top1_at_gt_best": [15.625, 3.125, 0.0],
        "counts": {30: [3803, 1359397], 50: [43, 27261], 70: [0, 0]},
    },
    ("box", True, 0.01): {
        "max_box_acc": [28.125, 9.375, 3.125],
        "v2": 13.541666666666666,
        "best_threshold": [0.34, 0.35000000000000003, 0.25],
        "top1_max": [25.0, 9.375, 3.125],
        "top1_at_gt_best": [25.0, 9.375, 0.0],
        "counts": {30: [528, 20711], 50: [99, 4074], 70: [2, 51]},
    },
    ("box", False, 0.005): {
        "max_box_acc": [18.75, 3.125, 0.0],
        "v2": 7.291666666666667,
        "best_threshold": [0.0, 0.35000000000000003, 0.0],
        "top1_max": [15.625, 3.125, 0.0],
        "top1_at_gt_best": [15.625, 3.125, 0.0],
        "counts": {30: [764, 54464], 50: [9, 1093], 70: [0, 0]},
    },
    ("box_stem", True, 0.001): {
        "max_box_acc": [18.75, 6.25, 0.0],
        "v2": 8.333333333333334,
        "best_threshold": [0.34600000000000003, 0.0, 0.0],
        "top1_max": [18.75, 6.25, 0.0],
        "top1_at_gt_best": [6.25, 6.25, 0.0],
        "counts": {30: [1988, 1023029], 50: [71, 16730], 70: [0, 0]},
    },
    ("box_stem", False, 0.001): {
        "max_box_acc": [12.5, 6.25, 0.0],
        "v2": 6.25,
        "best_threshold": [0.0, 0.0, 0.0],
        "top1_max": [6.25, 6.25, 0.0],
        "top1_at_gt_best": [6.25, 6.25, 0.0],
        "counts": {30: [895, 277689], 50: [71, 16730], 70: [0, 0]},
    },
}
PXAP = {0.001: 11.498302500343755, 0.01: 11.528578050216694}
NORMALIZE_CHECKSUMS = [
    692812352.3485643, 615875509.8137407, 623005069.3650045, 0.0, 0.0, 627968552.3676009,
    597120237.2704315, 635232679.6514878, 638595106.1825626, 509982229.9860826,
    536318968.8353561, 660883967.4675279, 615392608.3391776, 615754614.8665556,
    680594083.450878, 643489724.1469135, 566799126.9018583, 582260159.3145163,
    697408160.6357698, 430039368.7958257,
]  # fmt: skip


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity")
    _, _, predicted = make_box_split(root / "box", images=32, seed=0, kinds=PARITY_KINDS)
    (root / "box" / "predicted.json").write_text(json.dumps(predicted))
    _, _, predicted = make_box_split(
        root / "box_stem", images=16, seed=1, layout="stem", kinds=PARITY_KINDS
    )
    (root / "box_stem" / "predicted.json").write_text(json.dumps(predicted))
    make_mask_split(root / "mask", images=12, seed=0)
    return root


def _slow_for_stem(key: tuple) -> list:
    return [pytest.mark.slow] if key[0] == "box_stem" else []


@pytest.mark.parametrize("key", [pytest.param(k, marks=_slow_for_stem(k)) for k in BOX])
def test_box_metrics_equal_the_canonical_ones(splits: Path, key: tuple) -> None:
    name, multi_contour, interval = key
    golden = BOX[key]
    meta = read_split(splits / name / "meta", require_localization=True)
    predicted = json.loads((splits / name / "predicted.json").read_text())
    source = FolderSource(ScoremapFolder.scan(splits / name / "scoremaps", meta.image_ids), 224)
    evaluator = BoxEvaluator(
        meta, EvalProtocol(cam_curve_interval=interval, multi_contour=multi_contour)
    )
    for image_id in meta.image_ids:
        evaluator.accumulate(source.load(image_id), image_id, predicted[image_id])
    result = evaluator.compute()
    assert list(result.max_box_acc.values()) == golden["max_box_acc"]
    assert result.max_box_acc_v2 == golden["v2"]
    assert list(result.best_threshold.values()) == golden["best_threshold"]
    assert [result.top1_loc(d) for d in (30, 50, 70)] == golden["top1_max"]
    best = result.best_threshold[50]
    assert [result.top1_loc_at(best, d) for d in (30, 50, 70)] == golden["top1_at_gt_best"]
    index = np.arange(result.thresholds.size)
    for row, level in zip(result.correct, (30, 50, 70), strict=True):
        assert [int(row.sum()), int(row @ index)] == golden["counts"][level]


def test_folder_evaluation_with_workers_equals_the_canonical_json(splits: Path) -> None:
    meta = read_split(splits / "box" / "meta", require_localization=True)
    source = FolderSource(ScoremapFolder.scan(splits / "box" / "scoremaps", meta.image_ids), 224)
    report = evaluate_scoremaps(source, meta, EvalProtocol(cam_curve_interval=0.01), workers=2)
    data = report.to_dict()
    golden = BOX[("box", True, 0.01)]
    assert data["max_box_acc_v2"] == golden["v2"]
    assert list(data["max_box_acc"].values()) == golden["max_box_acc"]
    assert list(data["best_threshold"].values()) == golden["best_threshold"]


@pytest.mark.parametrize("interval", sorted(PXAP))
def test_pxap_equals_the_canonical_one(splits: Path, interval: float) -> None:
    meta = read_split(splits / "mask" / "meta", require_localization=True)
    evaluator = MaskEvaluator(
        meta, EvalProtocol(cam_curve_interval=interval), mask_root=splits / "mask" / "masks"
    )
    for image_id in meta.image_ids:
        evaluator.accumulate(np.load(splits / "mask" / "scoremaps" / f"{image_id}.npy"), image_id)
    assert evaluator.compute().pxap == PXAP[interval]


def test_normalize_scoremap_equals_the_canonical_one() -> None:
    rng = np.random.default_rng(7)
    checksums = []
    for k in range(20):
        n = int(rng.integers(5, 30))
        cam = rng.standard_normal((n, n)).astype(np.float32)
        if k == 3:
            cam[:] = 1.5
        if k == 4:
            cam[2, 2] = np.nan
        scoremap = normalize_scoremap(cam, 224)
        checksums.append(float(np.sum(scoremap * np.arange(scoremap.size).reshape(scoremap.shape))))
    assert checksums == NORMALIZE_CHECKSUMS
