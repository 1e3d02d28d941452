"""The literal wsolevaluation algorithm, written plainly: the reference the fast path must equal.

One ``findContours`` per threshold, every box against every GT box, exactly as
SPEC.md §2.5–§2.7 describe. It is slow on purpose (readable, no shortcuts); the
tests and ``tests/benchmarks/bench_metrics.py`` compare the fast path with it.
"""

from __future__ import annotations

import cv2
import numpy as np


def literal_boxes(scoremap: np.ndarray, threshold: float, multi_contour: bool) -> list[tuple]:
    """Boxes of one score map at one CAM threshold (canonical ``scoremap2bbox``)."""
    height, width = scoremap.shape
    image = (scoremap * 255).astype(np.uint8)
    _, binary = cv2.threshold(image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return [(0, 0, 0, 0)]
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x, y, min(x + w, width - 1), min(y + h, height - 1)))
    return boxes


def literal_iou(box_a: tuple, box_b: tuple) -> float:
    """Inclusive-pixel IoU of two boxes; 0 when the union is not positive."""
    ix = max(0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]) + 1)
    iy = max(0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]) + 1)
    inter = ix * iy
    area_a = (box_a[2] - box_a[0] + 1) * (box_a[3] - box_a[1] + 1)
    area_b = (box_b[2] - box_b[0] + 1) * (box_b[3] - box_b[1] + 1)
    union = area_a + area_b - inter
    return 0.0 if union <= 0 else float(np.float64(inter) / np.float64(union))


def literal_image_ious(
    scoremap: np.ndarray, gt_boxes: list[tuple], thresholds: np.ndarray, multi_contour: bool
) -> np.ndarray:
    """The image's IoU at every threshold: max over predicted boxes and GT boxes."""
    out = np.empty(len(thresholds))
    for i, threshold in enumerate(thresholds):
        boxes = literal_boxes(scoremap, threshold, multi_contour)
        out[i] = max(literal_iou(b, g) for b in boxes for g in gt_boxes)
    return out


def literal_correct_counts(
    scoremaps: list[np.ndarray],
    gt_boxes: list[list[tuple]],
    thresholds: np.ndarray,
    iou_thresholds: tuple[int, ...],
    multi_contour: bool,
) -> np.ndarray:
    """Correct-image counts per (IoU level, CAM threshold): the BoxAcc curve numerators."""
    counts = np.zeros((len(iou_thresholds), len(thresholds)), dtype=np.int64)
    for scoremap, boxes in zip(scoremaps, gt_boxes, strict=True):
        ious = literal_image_ious(scoremap, boxes, thresholds, multi_contour)
        for row, delta in enumerate(iou_thresholds):
            counts[row] += ious >= delta / 100
    return counts
