"""Boxes in the field's conventions (SPEC.md §2.4–§2.7).

Boxes are ``(x0, y0, x1, y1)`` integer pixel corners, both ends inclusive, as in
wsolevaluation. Everything here is the plain, per-threshold definition; the
fast all-threshold sweep lives in :mod:`wsolkit.metrics.contours`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

ZERO_BOX = (0, 0, 0, 0)


def cam_thresholds(interval: float) -> np.ndarray:
    """The CAM thresholds of a sweep: ``numpy.arange(0, 1, interval)`` (float64).

    The values are used as they are (``0.20800000000000002``, not ``0.208``):
    best thresholds are reported as these exact numbers.
    """
    if not 0 < interval < 1:
        raise ValueError(f"cam_curve_interval must lie in (0, 1), got {interval}")
    return np.arange(0, 1, interval)


def inclusive_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every pair of boxes, inclusive-pixel convention.

    ``boxes_a``: A×4, ``boxes_b``: B×4 integer ``(x0, y0, x1, y1)``; returns A×B float64.
    area = (x1 − x0 + 1)(y1 − y0 + 1); intersection sides max(0, min(x1) − max(x0) + 1);
    IoU = inter / (area_a + area_b − inter), and 0 where that union is not positive.
    ``torchvision.ops.box_iou`` omits the +1 and gives different numbers.
    """
    a = np.asarray(boxes_a, dtype=np.int64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, dtype=np.int64).reshape(1, -1, 4)
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area_a + area_b - inter
    degenerate = union <= 0
    iou = inter / np.where(degenerate, 1, union)
    iou[degenerate] = 0.0
    return iou


def rescale_box(
    box: Sequence[int], image_size: tuple[int, int], eval_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """A ground-truth box from original pixels to the evaluation grid.

    ``image_size`` and ``eval_size`` are ``(width, height)``. Each coordinate is
    ``int(x * new_width / width)`` computed in float64 (truncation), likewise for y.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = (float(v) for v in image_size)
    new_w, new_h = (float(v) for v in eval_size)
    return (
        int(x0 * new_w / width),
        int(y0 * new_h / height),
        int(x1 * new_w / width),
        int(y1 * new_h / height),
    )


def rescale_boxes(
    boxes: Iterable[Sequence[int]], image_size: tuple[int, int], eval_size: tuple[int, int]
) -> np.ndarray:
    """:func:`rescale_box` over an image's boxes; returns a G×4 int64 array."""
    rows = [rescale_box(b, image_size, eval_size) for b in boxes]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def scoremap_to_uint8(scoremap: np.ndarray) -> np.ndarray:
    """``(scoremap * 255).astype(uint8)``: the truncating cast every box sweep starts from."""
    return (scoremap * 255).astype(np.uint8)


def contour_boxes(binary: np.ndarray, *, multi_contour: bool = True) -> np.ndarray:
    """Boxes of the contours of one binary map, exactly as wsolevaluation extracts them.

    ``binary``: H×W uint8 (non-zero = foreground). All contours of
    ``findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`` (hole borders included), or
    only the first one of maximal ``contourArea`` when ``multi_contour`` is off;
    each gives ``(x, y, min(x + w, W − 1), min(y + h, H − 1))`` from its
    ``boundingRect``. No contour: the single box ``(0, 0, 0, 0)``. Returns K×4 int64.
    """
    binary = np.ascontiguousarray(binary, dtype=np.uint8)
    height, width = binary.shape
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.asarray([ZERO_BOX], dtype=np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x, y, min(x + w, width - 1), min(y + h, height - 1)))
    return np.asarray(boxes, dtype=np.int64)
