"""The fast all-threshold sweep equals the literal per-threshold algorithm, exactly."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from literal_metrics import literal_correct_counts, literal_image_ious
from metric_cases import KINDS, generate_boxes, generate_map

from wsolkit.data.metadata import SplitMetadata
from wsolkit.metrics import (
    BoxEvaluator,
    EvalProtocol,
    cam_thresholds,
    contour_boxes,
    inclusive_iou,
)
from wsolkit.metrics.contours import level_ious, threshold_ious


def brute_level_ious(u: np.ndarray, gt: np.ndarray, multi_contour: bool) -> np.ndarray:
    """Per level k: findContours on u > k, every box against every GT box."""
    top = int(u.max())
    if top == 0:
        return inclusive_iou(np.zeros((1, 4), np.int64), gt).max(axis=1)
    return np.array(
        [
            inclusive_iou(contour_boxes(u > k, multi_contour=multi_contour), gt).max()
            for k in range(top)
        ]
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("multi_contour", [True, False])
def test_every_level_equals_findcontours_on_small_maps(kind: str, multi_contour: bool) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{kind}{multi_contour}".encode()))
    for _ in range(25):  # 10 kinds x 2 modes x 25 = 500 maps
        size = tuple(int(s) for s in rng.integers(3, 48, 2))
        u = (generate_map(rng, kind, size) * 255).astype(np.uint8)
        gt = generate_boxes(rng, size, int(rng.integers(1, 4)))
        fast = level_ious(u, gt, multi_contour=multi_contour)
        np.testing.assert_array_equal(fast, brute_level_ious(u, gt, multi_contour))


def test_fine_order_gives_the_same_levels_as_uint8_order() -> None:
    rng = np.random.default_rng(5)
    for kind in KINDS:
        scoremap = generate_map(rng, kind, (64, 64))
        gt = generate_boxes(rng, (64, 64), 2)
        u = (scoremap * 255).astype(np.uint8)
        fine = np.floor(scoremap * 255 * 2.0**20)
        np.testing.assert_array_equal(level_ious(u, gt, fine=fine), level_ious(u, gt))


@pytest.mark.parametrize("interval", [0.001, 0.005, 0.01])
@pytest.mark.parametrize("multi_contour", [True, False])
def test_thresholds_equal_the_literal_sweep_at_224(interval: float, multi_contour: bool) -> None:
    rng = np.random.default_rng(int(interval * 1000) + 7 * multi_contour)
    thresholds = cam_thresholds(interval)
    kinds = ("cam14", "cam28", "rings", "border", "plateaus", "lines", "near_constant")
    for kind in kinds:
        scoremap = generate_map(rng, kind, (224, 224))
        gt = generate_boxes(rng, (224, 224), int(rng.integers(1, 4)))
        fast = threshold_ious(scoremap, gt, thresholds, multi_contour=multi_contour)
        literal = literal_image_ious(scoremap, [tuple(b) for b in gt], thresholds, multi_contour)
        np.testing.assert_array_equal(fast, literal)


def test_box_evaluator_counts_equal_the_literal_counts() -> None:
    rng = np.random.default_rng(11)
    ids = [f"im{i}.jpg" for i in range(12)]
    maps = [generate_map(rng, KINDS[i % len(KINDS)], (56, 56)) for i in range(12)]
    boxes = {i: [tuple(int(v) for v in b) for b in generate_boxes(rng, (56, 56), 2)] for i in ids}
    meta = SplitMetadata(ids, dict.fromkeys(ids, 0), dict.fromkeys(ids, (56, 56)), boxes=boxes)
    for multi_contour in (True, False):
        evaluator = BoxEvaluator(
            meta,
            EvalProtocol(eval_size=56, cam_curve_interval=0.005, multi_contour=multi_contour),
        )
        for image_id, scoremap in zip(ids, maps, strict=True):
            evaluator.accumulate(scoremap, image_id)
        expected = literal_correct_counts(
            maps, [boxes[i] for i in ids], evaluator.thresholds, (30, 50, 70), multi_contour
        )
        np.testing.assert_array_equal(evaluator.compute().correct, expected)


@pytest.mark.slow
def test_hundreds_of_cam_sized_maps_equal_the_literal_sweep() -> None:
    rng = np.random.default_rng(2024)
    thresholds = cam_thresholds(0.01)
    for i in range(200):
        scoremap = generate_map(rng, KINDS[i % len(KINDS)], (224, 224))
        gt = generate_boxes(rng, (224, 224), int(rng.integers(1, 4)))
        for multi_contour in (True, False):
            fast = threshold_ious(scoremap, gt, thresholds, multi_contour=multi_contour)
            literal = literal_image_ious(
                scoremap, [tuple(b) for b in gt], thresholds, multi_contour
            )
            np.testing.assert_array_equal(fast, literal)
