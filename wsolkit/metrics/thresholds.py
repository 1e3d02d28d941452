"""Thresholds chosen on one split, applied to another: what a deployed localizer would face.

MaxBoxAcc picks the best CAM threshold on the evaluated split itself — an oracle. Here the
thresholds come from elsewhere (:class:`Taus`): chosen on the val split (its best threshold
per IoU level, its best pixel-IoU threshold for masks) or given by hand, and the test split
is read at them (:func:`at_taus`): BoxAcc per IoU level at that level's τ, their mean ("V2
at val τ"), GT-known and Top-1 Loc at the τ of IoU 50, and for masks the pixel precision,
recall, F1 and IoU at the mask τ. PxAP needs no threshold and is not repeated.
"""

from __future__ import annotations

import numpy as np

from wsolkit.metrics.results import LocalizationResult, MaskResult, nearest_index
from wsolkit.metrics.scores import AtTaus, PixelScores, Taus

__all__ = ["AtTaus", "PixelScores", "Taus", "at_taus"]


def at_taus(taus: Taus, box: LocalizationResult | None, mask: MaskResult | None) -> AtTaus:
    """The box and mask results read at ``taus`` (a threshold off the sweep is an error)."""
    out = AtTaus(taus=taus)
    if box is not None and taus.box is not None:
        missing = [str(d) for d in box.iou_thresholds if str(d) not in taus.box]
        if missing:
            raise ValueError(
                f"no threshold for IoU level {missing[0]} in the {taus.source} thresholds "
                f"(it has {', '.join(taus.box)}); evaluate with the same IoU levels"
            )
        accuracies = {}
        for row, level in enumerate(box.iou_thresholds):
            index = nearest_index(box.thresholds, taus.box[str(level)], box.cam_curve_interval)
            accuracies[str(level)] = float(box.box_acc[row, index])
        out.box_acc = accuracies
        out.mean = float(np.average(list(accuracies.values())))
        if 50 in box.iou_thresholds:
            at50 = nearest_index(box.thresholds, taus.box["50"], box.cam_curve_interval)
            out.gt_known_loc = accuracies["50"]
            curve = box.top1_loc_curve
            if curve is not None:
                out.top1_loc = float(curve[box.iou_thresholds.index(50), at50])
    if mask is not None and taus.mask is not None and mask.positive is not None:
        out.mask = PixelScores(**mask.at(taus.mask))
    return out
