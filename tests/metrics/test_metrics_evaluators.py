"""BoxEvaluator, MaskEvaluator and ClassificationAccuracy: results, merging, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from metric_cases import KINDS, generate_map

from wsolkit.data.metadata import MaskAnnotation, SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics import (
    BoxEvaluator,
    ClassificationAccuracy,
    EvalProtocol,
    MaskEvaluator,
    score_histogram,
)
from wsolkit.metrics.pxap import pxap_bin_edges, pxap_from_histograms


def _box_split(n: int = 6) -> SplitMetadata:
    ids = [f"c/{i}.jpg" for i in range(n)]
    boxes = {i: [(20, 20, 60, 60)] for i in ids}
    return SplitMetadata(
        ids, {i: k % 2 for k, i in enumerate(ids)}, dict.fromkeys(ids, (100, 100)), boxes=boxes
    )


def _square(lo: int, hi: int, size: int = 32) -> np.ndarray:
    out = np.zeros((size, size))
    out[lo:hi, lo:hi] = 1.0
    return out


def test_box_result_by_hand() -> None:
    # GT (20, 20, 60, 60) in a 100x100 image -> (6, 6, 19, 19) on a 32 grid (int(20*32/100)=6).
    meta = _box_split(2)
    evaluator = BoxEvaluator(meta, EvalProtocol(eval_size=32, cam_curve_interval=0.25))
    np.testing.assert_array_equal(evaluator.gt_boxes["c/0.jpg"], [[6, 6, 19, 19]])
    evaluator.accumulate(_square(6, 19), "c/0.jpg", predicted_class=0)  # box 6..19 exactly
    evaluator.accumulate(np.zeros((32, 32)), "c/1.jpg", predicted_class=0)  # (0,0,0,0); wrong class
    result = evaluator.compute()
    assert result.images == 2
    np.testing.assert_array_equal(result.box_acc, np.full((3, 4), 50.0))
    assert result.max_box_acc == {30: 50.0, 50: 50.0, 70: 50.0}
    assert result.best_threshold == {30: 0.0, 50: 0.0, 70: 0.0}
    assert result.max_box_acc_v2 == 50.0
    assert result.gt_known_loc(0.5) == 50.0
    assert result.top1_loc() == 50.0  # image 0 is right about its class (label 0)
    data = result.to_dict()
    assert data["max_box_acc"] == {"30": 50.0, "50": 50.0, "70": 50.0}
    assert data["top1_loc"]["at_gt_known_best_threshold"] == 50.0
    assert data["curves"]["thresholds"] == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="not on the sweep"):
        result.gt_known_loc(0.3)


def test_top1_loc_is_absent_without_predictions_for_every_image() -> None:
    evaluator = BoxEvaluator(_box_split(2), EvalProtocol(eval_size=32, cam_curve_interval=0.5))
    evaluator.accumulate(_square(6, 19), "c/0.jpg", predicted_class=0)
    evaluator.accumulate(_square(6, 19), "c/1.jpg")
    assert evaluator.compute().top1_loc() is None


def test_merged_shards_equal_one_evaluator() -> None:
    rng = np.random.default_rng(0)
    meta = _box_split(6)
    maps = [generate_map(rng, KINDS[i], (40, 40)) for i in range(6)]
    protocol = EvalProtocol(eval_size=40, cam_curve_interval=0.01)
    whole = BoxEvaluator(meta, protocol)
    shards = [BoxEvaluator(meta, protocol) for _ in range(2)]
    for k, (image_id, scoremap) in enumerate(zip(meta.image_ids, maps, strict=True)):
        whole.accumulate(scoremap, image_id, k % 3)
        shards[k % 2].accumulate(scoremap, image_id, k % 3)
    shards[0].merge_state(shards[1].state())
    a, b = whole.compute(), shards[0].compute()
    np.testing.assert_array_equal(a.correct, b.correct)
    np.testing.assert_array_equal(a.correct_top1, b.correct_top1)
    assert a.to_dict() == b.to_dict()


def test_box_evaluator_errors_name_the_problem() -> None:
    evaluator = BoxEvaluator(_box_split(1), EvalProtocol(eval_size=32))
    with pytest.raises(DataError, match="no score map was accumulated"):
        evaluator.compute()
    with pytest.raises(DataError, match="'c/9.jpg' is not in the metadata"):
        evaluator.accumulate(np.zeros((32, 32)), "c/9.jpg")
    with pytest.raises(DataError, match="is 16x16, expected 32x32"):
        evaluator.accumulate(np.zeros((16, 16)), "c/0.jpg")
    with pytest.raises(ValueError, match="different thresholds"):
        evaluator.merge_state(
            BoxEvaluator(_box_split(1), EvalProtocol(cam_curve_interval=0.01)).state()
        )


def test_histogram_equals_numpy_on_edges_and_random_scores() -> None:
    rng = np.random.default_rng(3)
    for interval in (0.001, 0.005, 0.01, 0.3):
        edges = pxap_bin_edges(interval)
        scores = np.concatenate(
            [rng.random(20000), edges[:-3], np.nextafter(edges[1:-3], 0), [1.0]]
        )
        np.testing.assert_array_equal(
            score_histogram(scores, edges), np.histogram(scores, edges)[0]
        )


def test_pxap_by_hand() -> None:
    edges = pxap_bin_edges(0.5)  # bins [0, .5), [.5, 1), [1, 2), [2, 3]
    perfect = pxap_from_histograms(
        score_histogram(np.ones(4), edges), score_histogram(np.zeros(6), edges)
    )
    assert perfect[0] == 100.0
    # Positives at .75 (2), negatives at .75 (1) and .25 (1): one operating point, P=2/3, R=1.
    pxap, precision, recall = pxap_from_histograms(
        score_histogram(np.array([0.75, 0.75]), edges),
        score_histogram(np.array([0.75, 0.25]), edges),
    )
    assert pxap == (2 / 3) * 100
    assert np.isnan(precision[0]) and recall.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_mask_evaluator_ignores_the_ignore_region(tmp_path: Path) -> None:
    mask = np.zeros((10, 20), np.uint8)
    mask[:, :10] = 255
    ignore = np.zeros((10, 20), np.uint8)
    ignore[:, 10:15] = 255  # half of the background is ignored
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    cv2.imwrite(str(tmp_path / "i.png"), ignore)
    meta = SplitMetadata(
        ["a.jpg"],
        {"a.jpg": 0},
        {"a.jpg": (20, 10)},
        masks={"a.jpg": MaskAnnotation(["m.png"], "i.png")},
    )
    evaluator = MaskEvaluator(
        meta, EvalProtocol(eval_size=20, cam_curve_interval=0.1), mask_root=tmp_path
    )
    scoremap = np.zeros((20, 20))
    scoremap[:, :10] = 0.9  # the foreground columns
    scoremap[:, 10:15] = 0.95  # ignored: would lower precision if counted
    evaluator.accumulate(scoremap, "a.jpg")
    assert evaluator.compute().pxap == 100.0
    with pytest.raises(DataError, match=r"nope\.png: mask file is missing"):
        bad = SplitMetadata(
            ["a.jpg"],
            {"a.jpg": 0},
            {"a.jpg": (20, 10)},
            masks={"a.jpg": MaskAnnotation(["nope.png"])},
        )
        MaskEvaluator(bad, EvalProtocol(eval_size=20), mask_root=tmp_path).accumulate(
            scoremap, "a.jpg"
        )


def test_classification_top1_top5() -> None:
    accuracy = ClassificationAccuracy()
    scores = np.array([[0.1, 0.9, 0.0, 0.0, 0.0, 0.0], [0.6, 0.1, 0.2, 0.05, 0.03, 0.02]])
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :5]  # the classes, best first
    accuracy.accumulate(ranked, np.array([1, 5]))  # first: top-1; second: rank 6 of 6
    other = ClassificationAccuracy()
    other.accumulate(ranked[1:], np.array([2]))  # rank 2: top-5 only
    accuracy.merge_state(other.state())
    result = accuracy.compute()
    assert result.to_dict() == {"top1": 100 / 3, "top5": 200 / 3, "images": 3}


def test_accumulate_rejects_nan_and_out_of_range_maps_like_the_canonical_check() -> None:
    evaluator = BoxEvaluator(_box_split(1), EvalProtocol(eval_size=8))
    for bad in (np.full((8, 8), np.nan), np.full((8, 8), -0.1), np.full((8, 8), 1.01)):
        with pytest.raises(DataError, match="must hold values in \\[0, 1\\] without NaN"):
            evaluator.accumulate(bad, "c/0.jpg")
