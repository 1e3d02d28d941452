"""Boxes and IoU in the field's conventions, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from wsolkit.metrics import cam_thresholds, contour_boxes, inclusive_iou, rescale_box
from wsolkit.metrics.contours import level_ious, threshold_ious


def test_iou_is_inclusive_of_both_end_pixels() -> None:
    # a: x 1..5, y 2..6 (25 px); b: x 3..4, y 1..5 (10 px); overlap x 3..4, y 2..5 (8 px).
    iou = inclusive_iou(np.array([[1, 2, 5, 6]]), np.array([[3, 1, 4, 5]]))
    assert iou[0, 0] == 8 / 27
    assert iou.dtype == np.float64


def test_iou_of_identical_one_pixel_boxes_is_one_and_disjoint_is_zero() -> None:
    boxes = np.array([[1, 1, 3, 3], [4, 4, 5, 5]])
    np.testing.assert_array_equal(inclusive_iou(boxes, boxes), np.eye(2))
    zeros = inclusive_iou(np.zeros((3, 4)), np.zeros((5, 4)))
    assert zeros.shape == (3, 5) and (zeros == 1.0).all()  # (0,0,0,0) is one pixel


def test_iou_with_non_positive_union_is_zero() -> None:
    # Degenerate (inverted) boxes: areas (-1)(-1)=1 each, no overlap... union 2-0; make it <= 0:
    a = np.array([[5, 0, 0, 0]])  # width -4, height 1 -> area -4
    b = np.array([[0, 0, 1, 0]])  # area 2; intersection 0 -> union -2
    assert inclusive_iou(a, b)[0, 0] == 0.0


def test_rescale_truncates_in_float64() -> None:
    # CUB test image 1 (500x335): 60,27,385,331 -> 26.88, 18.05, 172.48, 221.32 -> truncated.
    assert rescale_box((60, 27, 385, 331), (500, 335), (224, 224)) == (26, 18, 172, 221)
    assert rescale_box((1, 2, 4, 3), (10, 20), (35, 10)) == (3, 1, 14, 1)
    assert rescale_box((1, 2, 1, 2), (3, 3), (3, 3)) == (1, 2, 1, 2)


def test_nothing_above_threshold_gives_the_zero_box() -> None:
    np.testing.assert_array_equal(contour_boxes(np.zeros((3, 3), np.uint8)), [[0, 0, 0, 0]])
    gt = np.array([[0, 0, 0, 0], [1, 1, 2, 2]])
    ious = threshold_ious(np.zeros((3, 3)), gt, cam_thresholds(0.2))
    np.testing.assert_array_equal(ious, np.ones(5))  # (0,0,0,0) matches the first GT box


def test_box_is_one_pixel_larger_than_the_blob_and_clipped() -> None:
    binary = np.zeros((6, 8), np.uint8)
    binary[1:3, 2:5] = 1  # rows 1-2, cols 2-4: boundingRect x=2, y=1, w=3, h=2
    np.testing.assert_array_equal(contour_boxes(binary), [[2, 1, 5, 3]])
    binary[:, 6:] = 1  # a second blob on the right border: x + w = 8 -> 7, y + h = 6 -> 5
    assert sorted(contour_boxes(binary).tolist()) == [[2, 1, 5, 3], [6, 0, 7, 5]]


def test_hole_contours_count_in_multi_contour_mode() -> None:
    # A ring two pixels thick: outer pixels 1..8, hole 3..6 (10x10 image).
    binary = np.zeros((10, 10), np.uint8)
    binary[1:9, 1:9] = 1
    binary[3:7, 3:7] = 0
    boxes = contour_boxes(binary).tolist()
    # Outer: bbox 1..8 -> (1, 1, min(9, 9), min(9, 9)); hole border on pixels 2..7 -> (2, 2, 8, 8).
    assert sorted(boxes) == [[1, 1, 9, 9], [2, 2, 8, 8]]
    gt = np.array([[2, 2, 8, 8]])
    u = binary * 255
    assert level_ious(u, gt)[0] == 1.0  # found through the hole, by the fast path too
    assert level_ious(u, gt, multi_contour=False)[0] == inclusive_iou([[1, 1, 9, 9]], gt)[0, 0]


def test_single_contour_keeps_the_first_of_equal_areas() -> None:
    # Two separate one-pixel-wide lines: both contours have polygon area 0, so
    # max(contours, key=contourArea) keeps whichever findContours lists first.
    binary = np.zeros((8, 8), np.uint8)
    binary[1, 1:6] = 1
    binary[5, 2:7] = 1
    single = contour_boxes(binary, multi_contour=False).tolist()
    multi = contour_boxes(binary).tolist()
    assert single == [multi[0]]
    assert len(multi) == 2


def test_canonical_unimodal_and_multimodal_examples() -> None:
    # wsolevaluation's evaluation_test.py cases (single contour, thresholds 0, .2, .4, .6, .8).
    unimodal = np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.4, 0.4, 0.4, 0.6],
            [0.0, 0.4, 1.0, 0.8, 0.6],
            [0.0, 0.4, 0.4, 0.4, 0.6],
        ]
    )
    multimodal = np.array(
        [
            [0.4, 0.0, 0.2, 0.2, 0.2],
            [0.4, 0.4, 0.0, 0.4, 0.0],
            [0.0, 0.0, 0.0, 0.4, 0.0],
            [1.0, 0.6, 0.8, 0.2, 0.2],
        ]
    )
    expected = {
        0: [[1, 1, 4, 3], [1, 1, 4, 3], [2, 1, 4, 3], [2, 2, 4, 3], [2, 2, 3, 3]],
        1: [[0, 0, 4, 3], [0, 0, 2, 2], [0, 3, 3, 3], [2, 3, 3, 3], [0, 3, 1, 3]],
    }
    for key, scoremap in enumerate((unimodal, multimodal)):
        u = (scoremap * 255).astype(np.uint8)
        for threshold, box in zip(cam_thresholds(0.2), expected[key], strict=True):
            binary = u > int(threshold * u.max())
            assert contour_boxes(binary, multi_contour=False).tolist() == [box]
            gt = np.array([box])
            assert (
                threshold_ious(scoremap, gt, np.array([threshold]), multi_contour=False)[0] == 1.0
            )


def test_thresholds_are_the_arange_values() -> None:
    thresholds = cam_thresholds(0.001)
    assert thresholds.size == 1000 and thresholds[208] == 0.20800000000000002
    with pytest.raises(ValueError):
        cam_thresholds(0)
