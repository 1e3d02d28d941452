"""Result objects of the evaluators: plain data that renders as a table, JSON or a figure.

Percentages are computed exactly as wsolevaluation does (``correct * 100. /
images`` in float64), so every number matches the canonical one to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wsolkit.metrics.scores import LocalizationScores, MaskScores

_IOU_UNIT = float(1 << 40)  # the fixed-point unit of the IoU sums (metrics.evaluator)


def _first_best(curve: np.ndarray) -> int:
    """Index of the first maximum (``numpy.argmax``)."""
    return int(np.argmax(curve))


def nearest_index(sweep: np.ndarray, threshold: float, interval: float) -> int:
    """The index of the sweep value ``threshold`` stands for (a given τ such as 0.23 need
    not equal ``arange``'s 0.23000000000000001); a τ off the sweep is a ``ValueError``."""
    index = int(np.argmin(np.abs(sweep - threshold)))
    if abs(float(sweep[index]) - threshold) > 1e-9 or not 0 <= threshold < 1:
        raise ValueError(
            f"CAM threshold {threshold!r} is not on the sweep numpy.arange(0, 1, {interval})"
        )
    return index


@dataclass
class LocalizationResult:
    """BoxAcc curves of one split, per IoU level, and everything read off them (SPEC.md §2.7).

    ``correct``: L×T counts of correct images per (IoU level, CAM threshold);
    ``correct_top1``: the same counting only images whose top-1 class is right
    (bridging-gap's Top-1 Loc), or None when predictions were not given for
    every image; ``iou_sum`` (T) and ``best_iou_sum``: the threshold-free sums of
    :func:`~wsolkit.metrics.evaluator.evaluate_box_batch` (units of 2^-40).
    """

    iou_thresholds: tuple[int, ...]
    thresholds: np.ndarray
    images: int
    correct: np.ndarray
    correct_top1: np.ndarray | None
    multi_contour: bool
    cam_curve_interval: float
    iou_sum: np.ndarray | None = None
    best_iou_sum: int | None = None

    @property
    def mean_iou(self) -> float | None:
        """Mean best IoU, in percent: each image's best IoU at any CAM threshold (its own
        oracle threshold), averaged over images. No threshold is shared or chosen."""
        if self.best_iou_sum is None:
            return None
        return 100.0 * self.best_iou_sum / _IOU_UNIT / self.images

    @property
    def iou_curve(self) -> np.ndarray | None:
        """Mean image IoU in percent at each CAM threshold (T)."""
        if self.iou_sum is None:
            return None
        return 100.0 * self.iou_sum.astype(np.float64) / _IOU_UNIT / self.images

    @property
    def raw_iou(self) -> float | None:
        """wsol_model_selection's ``raw_iou``, in percent: the mean image IoU at one CAM
        threshold for the whole split, maximized over the threshold (chosen on the split)."""
        curve = self.iou_curve
        return None if curve is None else float(curve.max())

    @property
    def raw_iou_threshold(self) -> float | None:
        """The CAM threshold of :attr:`raw_iou` (the first maximum)."""
        curve = self.iou_curve
        return None if curve is None else float(self.thresholds[_first_best(curve)])

    @property
    def box_acc(self) -> np.ndarray:
        """L×T BoxAcc in percent: ``correct * 100. / images``."""
        return self.correct.astype(np.float64) * 100.0 / float(self.images)

    @property
    def max_box_acc(self) -> dict[int, float]:
        """MaxBoxAcc per IoU level: the maximum of each BoxAcc curve."""
        return {
            d: float(row.max()) for d, row in zip(self.iou_thresholds, self.box_acc, strict=True)
        }

    @property
    def best_threshold(self) -> dict[int, float]:
        """Per IoU level, the CAM threshold of the first maximum (the ``arange`` value itself)."""
        return {
            d: float(self.thresholds[_first_best(row)])
            for d, row in zip(self.iou_thresholds, self.box_acc, strict=True)
        }

    @property
    def max_box_acc_v2(self) -> float:
        """Mean of MaxBoxAcc over the IoU levels (MaxBoxAccV2 with 30/50/70, multi-contour)."""
        return float(np.average(list(self.max_box_acc.values())))

    @property
    def is_canonical_v2(self) -> bool:
        """Whether the mean is MaxBoxAccV2 proper: IoU 30/50/70 and multi-contour."""
        return self.multi_contour and tuple(self.iou_thresholds) == (30, 50, 70)

    def threshold_index(self, threshold: float) -> int:
        """Index of a CAM threshold in the sweep; it must be one of the ``arange`` values."""
        hits = np.flatnonzero(self.thresholds == threshold)
        if hits.size == 0:
            raise ValueError(
                f"CAM threshold {threshold!r} is not on the sweep "
                f"numpy.arange(0, 1, {self.cam_curve_interval}); use one of its values"
            )
        return int(hits[0])

    def gt_known_loc(self, threshold: float, iou: int = 50) -> float:
        """GT-known Loc: BoxAcc at IoU ``iou`` and one CAM threshold of the sweep."""
        return float(self.box_acc[self.iou_thresholds.index(iou), self.threshold_index(threshold)])

    @property
    def top1_loc_curve(self) -> np.ndarray | None:
        """L×T Top-1 Loc in percent (correct box and correct top-1 class), or None."""
        if self.correct_top1 is None:
            return None
        return self.correct_top1.astype(np.float64) * 100.0 / float(self.images)

    def top1_loc(self, iou: int = 50) -> float | None:
        """Top-1 Loc: the maximum of its own curve at IoU ``iou`` (bridging-gap)."""
        curve = self.top1_loc_curve
        return None if curve is None else float(curve[self.iou_thresholds.index(iou)].max())

    def top1_loc_at(self, threshold: float, iou: int = 50) -> float | None:
        """Top-1 Loc at one CAM threshold of the sweep."""
        curve = self.top1_loc_curve
        if curve is None:
            return None
        return float(curve[self.iou_thresholds.index(iou), self.threshold_index(threshold)])

    def scores(self, *, curves: bool = True) -> LocalizationScores:
        """The SPEC.md §5 numbers, GT-known / Top-1 Loc, the protocol and (optionally) the
        curves, typed."""
        levels = [str(d) for d in self.iou_thresholds]
        out: dict[str, Any] = {
            "max_box_acc_v2": self.max_box_acc_v2,
            "max_box_acc": dict(zip(levels, self.max_box_acc.values(), strict=True)),
            "best_threshold": dict(zip(levels, self.best_threshold.values(), strict=True)),
            "images": self.images,
            "multi_contour": self.multi_contour,
            "cam_curve_interval": self.cam_curve_interval,
            "iou_thresholds": list(self.iou_thresholds),
        }
        if 50 in self.iou_thresholds:
            best = self.best_threshold[50]
            out["gt_known_loc"] = {"value": self.gt_known_loc(best), "threshold": best}
            top1_curve = self.top1_loc_curve
            if top1_curve is not None:
                curve = top1_curve[self.iou_thresholds.index(50)]
                out["top1_loc"] = {
                    "value": float(curve.max()),
                    "threshold": float(self.thresholds[_first_best(curve)]),
                    "at_gt_known_best_threshold": self.top1_loc_at(best),
                }
        if self.mean_iou is not None:
            out["mean_iou"] = self.mean_iou
            out["raw_iou"] = {"value": self.raw_iou, "threshold": self.raw_iou_threshold}
        if curves:
            out["curves"] = {
                "thresholds": self.thresholds.tolist(),
                "box_acc": dict(zip(levels, self.box_acc.tolist(), strict=True)),
            }
            top1_curve = self.top1_loc_curve
            if top1_curve is not None:
                out["curves"]["top1_loc"] = dict(zip(levels, top1_curve.tolist(), strict=True))
        return LocalizationScores.model_validate(out)

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """JSON-ready :meth:`scores`."""
        return self.scores(curves=curves).to_json()


@dataclass
class MaskResult:
    """PxAP of one split and its precision-recall curve (SPEC.md §2.8).

    ``precision`` and ``recall`` follow the canonical arrays (from the highest
    score bin down); entries where nothing is predicted positive are NaN.
    ``positive`` / ``negative``: the score histograms over ``thresholds`` (the bin
    edges), from which the pixel counts at any CAM threshold of the sweep follow.
    """

    pxap: float
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    images: int
    cam_curve_interval: float
    positive: np.ndarray | None = None
    negative: np.ndarray | None = None

    @property
    def sweep(self) -> np.ndarray:
        """The CAM thresholds of the sweep (the bin edges below 1)."""
        return self.thresholds[:-3]

    def pixel_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tp, fp, fn)`` per CAM threshold τ of the sweep: pixels with score ≥ τ are
        predicted foreground (ignored pixels count nowhere)."""
        if self.positive is None or self.negative is None:
            raise ValueError("this mask result keeps no histograms")
        n = self.sweep.size
        tp = self.positive[::-1].cumsum()[::-1][:n]
        fp = self.negative[::-1].cumsum()[::-1][:n]
        fn = self.positive.sum() - tp
        return tp, fp, fn

    @property
    def iou_curve(self) -> np.ndarray:
        """Dataset-level pixel IoU ``tp / (tp + fp + fn)`` in percent at each τ."""
        tp, fp, fn = (c.astype(np.float64) for c in self.pixel_counts())
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(100.0 * tp / (tp + fp + fn))

    @property
    def piou(self) -> float:
        """pIoU (DA-WSOL, BagCAMs): the best dataset-level pixel IoU over τ, in percent."""
        return float(self.iou_curve.max())

    @property
    def piou_threshold(self) -> float:
        """The CAM threshold of :attr:`piou` (the first maximum)."""
        return float(self.sweep[_first_best(self.iou_curve)])

    def at(self, threshold: float) -> dict[str, float]:
        """Pixel precision, recall, F1 and IoU in percent at CAM threshold ``threshold``."""
        index = nearest_index(self.sweep, threshold, self.cam_curve_interval)
        tp, fp, fn = (float(c[index]) for c in self.pixel_counts())

        def ratio(a: float, b: float) -> float:
            return 100.0 * a / b if b else 0.0

        return {
            "threshold": float(self.sweep[index]),
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "iou": ratio(tp, tp + fp + fn),
        }

    def scores(self, *, curves: bool = True) -> MaskScores:
        """``pxap`` and, optionally, the curve (NaN precision written as None), typed."""
        out: dict[str, Any] = {
            "pxap": self.pxap,
            "images": self.images,
            "cam_curve_interval": self.cam_curve_interval,
        }
        if self.positive is not None:
            out["piou"] = {"value": self.piou, "threshold": self.piou_threshold}
        if curves:
            out["pr_curve"] = {
                "precision": [None if np.isnan(p) else float(p) for p in self.precision],
                "recall": [float(r) for r in self.recall],
            }
        return MaskScores.model_validate(out)

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """JSON-ready :meth:`scores`."""
        return self.scores(curves=curves).to_json()


@dataclass
class ClassificationResult:
    """Top-k classification accuracy in percent."""

    images: int
    correct: dict[int, int]

    def accuracy(self, k: int) -> float:
        """Top-k accuracy in percent: ``correct * 100. / images``."""
        return self.correct[k] * 100.0 / float(self.images)

    def to_dict(self) -> dict[str, Any]:
        """``{"top1": .., "top5": .., "images": ..}``."""
        out: dict[str, Any] = {f"top{k}": self.accuracy(k) for k in sorted(self.correct)}
        out["images"] = self.images
        return out
