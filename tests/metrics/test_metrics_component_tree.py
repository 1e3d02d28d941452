"""The component tree's buffers and edge shapes: reuse never changes a result."""

from __future__ import annotations

import numpy as np
import pytest
from metric_cases import generate_boxes, generate_map

from wsolkit.metrics import contour_boxes, inclusive_iou
from wsolkit.metrics.component_tree import component_tree, scratch
from wsolkit.metrics.contours import level_ious


def brute(u: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """findContours on u > k for every level, every box against every GT box."""
    top = int(u.max())
    if top == 0:
        return inclusive_iou(np.zeros((1, 4), np.int64), gt).max(axis=1)
    return np.array([inclusive_iou(contour_boxes(u > k), gt).max() for k in range(top)])


@pytest.mark.parametrize("size", [(1, 1), (1, 17), (17, 1), (2, 2), (2, 31), (31, 2)])
def test_thin_maps_equal_findcontours(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    for kind in ("noise", "plateaus", "cam14", "zeros"):
        scoremap = generate_map(rng, kind, size)
        u = (scoremap * 255).astype(np.uint8)
        gt = generate_boxes(rng, size, 2)
        fine = np.floor(scoremap * 255 * 2.0**20)
        np.testing.assert_array_equal(level_ious(u, gt), brute(u, gt))
        np.testing.assert_array_equal(level_ious(u, gt, fine=fine), brute(u, gt))


def test_reused_buffers_across_shapes_and_basin_counts_give_fresh_results() -> None:
    # Noise has thousands of basins (uint16 labels, a large table), a CAM a hundred
    # (uint8 labels); the buffers grow and shrink in use between them and between shapes.
    rng = np.random.default_rng(3)
    cases = []
    for kind, size in [("noise", (64, 64)), ("cam28", (64, 64)), ("rings", (40, 50))] * 2:
        scoremap = generate_map(rng, kind, size)
        cases.append(((scoremap * 255).astype(np.uint8), generate_boxes(rng, size, 3)))
    expected = [brute(u, gt) for u, gt in cases]
    for _ in range(2):
        for (u, gt), want in zip(cases, expected, strict=True):
            np.testing.assert_array_equal(level_ious(u, gt), want)


def test_a_tree_stays_valid_after_later_trees_reuse_the_buffers() -> None:
    rng = np.random.default_rng(0)
    u = (generate_map(rng, "cam14", (32, 32)) * 255).astype(np.uint8)
    first = component_tree(u, 8)
    c, boxes = first.alive(1, 255)
    assert c.size == boxes.shape[0] > 0
    other = (generate_map(rng, "noise", (48, 40)) * 255).astype(np.uint8)
    component_tree(other, 8)
    component_tree(255 - other, 4, outside=True)
    c_again, boxes_again = first.alive(1, 255)
    np.testing.assert_array_equal(c_again, c)
    np.testing.assert_array_equal(boxes_again, boxes)


def test_scratch_grows_and_returns_views_of_the_requested_shape() -> None:
    small = scratch("test_buffer", (2, 3), np.int32)
    assert small.shape == (2, 3) and small.dtype == np.int32 and small.flags.c_contiguous
    large = scratch("test_buffer", (5, 7), np.int32)
    assert large.shape == (5, 7)
    again = scratch("test_buffer", (3, 2), np.int32)
    assert again.shape == (3, 2) and np.shares_memory(again, large)
    assert scratch("test_buffer", (4,), np.float64).dtype == np.float64
