"""Every threshold of a box sweep at once: the fast path behind :class:`BoxEvaluator`.

The canonical sweep (SPEC.md §2.5) binarizes ``u = uint8(255 · scoremap)`` at
``u > int(t · max(u))`` for each of ~1,000 thresholds and calls ``findContours``
each time. Two facts make that redundant:

* ``int(t · max(u))`` takes at most ``max(u) ≤ 255`` values, the *levels* k;
  the answer at a threshold is the answer at its level.
* In multi-contour mode the boxes at level k are exactly (the tests check this
  against ``findContours``):

  - each 8-connected component of ``{u > k}`` (an outer border) with bounding
    box ``(x0, y0, x1, y1)`` gives ``(x0, y0, min(x1 + 1, W − 1), min(y1 + 1, H − 1))``;
  - each 4-connected component of ``{u <= k}`` that does not touch the image
    border (a hole border, traced on the pixels around it) gives
    ``(x0 − 1, y0 − 1, min(x1 + 2, W − 1), min(y1 + 2, H − 1))``.

  Both families are nested over k, i.e. the nodes of two component trees
  (:mod:`wsolkit.metrics.component_tree`): of ``u`` with 8-connectivity and of
  ``255 − u`` with 4-connectivity and the border as an "outside" node.

Single-contour mode needs every contour's polygon area and findContours' order
(ties are common), so it calls ``findContours`` once per *distinct*
binarization (at most the number of distinct values of ``u``).
"""

from __future__ import annotations

import numpy as np

from wsolkit.metrics.boxes import ZERO_BOX, contour_boxes, inclusive_iou
from wsolkit.metrics.component_tree import FINE_BITS, SPAN, component_tree, scratch


def max_gt_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Max IoU over the GT boxes (G×4) of each box (P×4), inclusive convention, float64.

    Elementwise the same arithmetic as :func:`inclusive_iou` (bit-identical values).
    """
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    best = np.zeros(boxes.shape[0])
    for gx0, gy0, gx1, gy1 in gt.tolist():
        iw = np.maximum(0, np.minimum(x1, gx1) - np.maximum(x0, gx0) + 1)
        ih = np.maximum(0, np.minimum(y1, gy1) - np.maximum(y0, gy0) + 1)
        inter = iw * ih
        union = area + (gx1 - gx0 + 1) * (gy1 - gy0 + 1) - inter
        positive = union > 0
        np.maximum(best, np.where(positive, inter / np.where(positive, union, 1), 0.0), out=best)
    return best


def _family_ious(
    v: np.ndarray, gt: np.ndarray, c_min: int, c_max: int, *, hole: bool, fine: np.ndarray
) -> np.ndarray:
    """Best IoU per c (257 values, −1 where none) of the outer or hole contour family."""
    height, width = v.shape
    best = np.full(SPAN, -1.0)
    tree = component_tree(v, 4 if hole else 8, outside=hole, fine=fine, flip=hole)
    c, ext = tree.alive(c_min, c_max)
    if c.size == 0:
        return best
    x0, y0, x1, y1 = ext.T
    if hole:
        boxes = [x0 - 1, y0 - 1, np.minimum(x1 + 2, width - 1), np.minimum(y1 + 2, height - 1)]
    else:
        boxes = [x0, y0, np.minimum(x1 + 1, width - 1), np.minimum(y1 + 1, height - 1)]
    np.maximum.at(best, c, max_gt_iou(np.stack(boxes, axis=1), gt))
    return best


def level_ious(
    u: np.ndarray,
    gt_boxes: np.ndarray,
    *,
    multi_contour: bool = True,
    fine: np.ndarray | None = None,
) -> np.ndarray:
    """Best IoU with the GT boxes at every level k = 0..max(u) − 1 of a uint8 score map.

    ``u``: H×W uint8 (``uint8(255 · scoremap)``); ``gt_boxes``: G×4 inclusive boxes.
    Entry k is the canonical image IoU of the binarization ``u > k``: the max over
    its contour boxes (all of them, or the first largest with ``multi_contour``
    off) and all GT boxes. A map with ``max(u) == 0`` has one level, whose only
    box is ``(0, 0, 0, 0)``. Threshold t reads entry ``int(t · max(u))``.

    ``fine`` (H×W float64, optional) only speeds things up: ``floor(255 · score
    · 2^20)``, an order of the pixels consistent with ``u`` that follows the
    smooth surface inside plateaus of equal ``u`` (see :func:`threshold_ious`);
    the result is the same with or without it.
    """
    u = np.ascontiguousarray(u, dtype=np.uint8)
    gt = np.asarray(gt_boxes, dtype=np.int64).reshape(-1, 4)
    top = int(u.max())
    if top == 0:
        return inclusive_iou(np.asarray([ZERO_BOX]), gt).max(axis=1)
    if not multi_contour:
        return _single_contour_ious(u, gt, top)
    levels = np.arange(top)
    # Level k: outer borders of {u > k} = {u >= k + 1};
    # its holes: {u <= k} = {255 - u >= 255 - k}.
    if fine is None:
        fine = u * float(1 << FINE_BITS)
    outer = _family_ious(u, gt, 1, top, hole=False, fine=fine)[levels + 1]
    holes = _family_ious(255 - u, gt, 256 - top, 255, hole=True, fine=fine)
    return np.maximum(outer, holes[255 - levels])


def _single_contour_ious(u: np.ndarray, gt: np.ndarray, top: int) -> np.ndarray:
    """Single-contour mode: one ``findContours`` per distinct binarization ``u > k``."""
    present = np.flatnonzero(np.bincount(u.ravel(), minlength=256))
    # {u > k} only changes where k passes a value of u: level k behaves like the largest
    # value <= k present in u (or -1 below the minimum: every pixel is in).
    levels = np.arange(top)
    representative = np.concatenate([[-1], present])[np.searchsorted(present, levels, "right")]
    out = np.empty(top)
    for rep in np.unique(representative).tolist():
        boxes = contour_boxes(u > rep, multi_contour=False)
        out[representative == rep] = inclusive_iou(boxes, gt).max()
    return out


def threshold_ious(
    scoremap: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds: np.ndarray,
    *,
    multi_contour: bool = True,
) -> np.ndarray:
    """The canonical image IoU at every CAM threshold (float64, one per threshold).

    ``scoremap``: H×W float in [0, 1]; ``thresholds``: the sweep (``cam_thresholds``).
    """
    if scoremap.dtype == np.float64:  # the canonical dtype: into a reused buffer
        scaled = np.multiply(scoremap, 255, out=scratch("scaled", scoremap.shape, np.float64))
    else:  # whatever ``scoremap * 255`` gives (float32 stays float32)
        scaled = scoremap * 255
    u = scaled.astype(np.uint8)
    fine = None
    if multi_contour:
        # 255 · score at 2^-20 resolution orders pixels of equal u along the smooth surface.
        fine = np.floor(np.multiply(scaled, float(1 << FINE_BITS), out=scaled), out=scaled)
    per_level = level_ious(u, gt_boxes, multi_contour=multi_contour, fine=fine)
    levels = (thresholds * u.max()).astype(np.int64)
    return per_level[levels]
