"""Streaming box evaluation: ``accumulate(scoremap, image_id)`` then ``compute()``.

The state is a few count arrays (correct images per IoU level and CAM
threshold), constant in the number of images. States merge by addition, so
shards of a split evaluated in other processes (``--workers``) or on other
ranks (DDP all-reduce) combine into exactly the single-process result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.boxes import cam_thresholds, rescale_boxes
from wsolkit.metrics.contours import threshold_ious
from wsolkit.metrics.results import ClassificationResult, LocalizationResult
from wsolkit.settings.protocol import EvalProtocol

if TYPE_CHECKING:
    from wsolkit.metrics.split import ScoredBatch


def check_in_unit_range(scoremap: np.ndarray, image_id: str, size: int) -> None:
    """The canonical accumulate-time checks: size×size, no NaN, values in [0, 1]."""
    if scoremap.shape != (size, size):
        raise DataError(
            f"score map of '{image_id}' is {'x'.join(map(str, scoremap.shape))}, "
            f"expected {size}x{size} (normalize_scoremap resizes it)"
        )
    low, high = scoremap.min(), scoremap.max()
    if not (low >= 0 and high <= 1):  # also false for NaN
        raise DataError(
            f"score map of '{image_id}' must hold values in [0, 1] without NaN, found min {low} "
            f"and max {high} (normalize_scoremap gives such maps)"
        )


#: IoU sums are kept in fixed point (units of 2^-40) as int64: shards of a split then merge
#: exactly, in any order (a float64 sum would depend on it); 2^-40 ≈ 1e-12 per image.
IOU_UNIT = float(1 << 40)


def box_correct(
    scoremap: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds: np.ndarray,
    iou_thresholds: Sequence[int],
    *,
    multi_contour: bool = True,
) -> np.ndarray:
    """L×T booleans: is the image correct at IoU level δ (row) and CAM threshold t (column)?

    ``scoremap``: H×W float in [0, 1]; ``gt_boxes``: G×4 boxes on the same grid.
    Correct when the image IoU (max over predicted and GT boxes) is ``>= δ / 100``.
    """
    ious = threshold_ious(scoremap, gt_boxes, thresholds, multi_contour=multi_contour)
    return np.stack([ious >= delta / 100 for delta in iou_thresholds])


def _fixed(ious: np.ndarray) -> np.ndarray:
    """IoUs in [0, 1] as int64 units of 2^-40 (round half to even)."""
    return np.rint(np.asarray(ious, dtype=np.float64) * IOU_UNIT).astype(np.int64)


def evaluate_box_batch(
    scoremaps: Iterable[np.ndarray],
    gt_boxes: Iterable[np.ndarray],
    thresholds: np.ndarray,
    iou_thresholds: Sequence[int],
    *,
    multi_contour: bool = True,
    top1_correct: Iterable[bool] | None = None,
) -> dict[str, np.ndarray]:
    """Count arrays of a batch of images, to be summed across batches (a process-pool task).

    Returns the state of :meth:`BoxEvaluator.state`: ``correct`` (L×T),
    ``correct_top1`` (L×T, counting images whose ``top1_correct`` is true),
    ``images`` / ``predicted`` counts, and the threshold-free sums in units of
    2^-40 (:data:`IOU_UNIT`): ``iou_sum`` (T: Σ over images of the image IoU at each
    threshold) and ``best_iou_sum`` (Σ over images of the best image IoU of any
    threshold). Picklable in and out.
    """
    correct = np.zeros((len(iou_thresholds), len(thresholds)), dtype=np.int64)
    correct_top1 = np.zeros_like(correct)
    iou_sum = np.zeros(len(thresholds), dtype=np.int64)
    best_iou_sum = np.int64(0)
    images = predicted = 0
    flags = iter(top1_correct) if top1_correct is not None else None
    for scoremap, boxes in zip(scoremaps, gt_boxes, strict=True):
        ious = threshold_ious(scoremap, boxes, thresholds, multi_contour=multi_contour)
        hits = np.stack([ious >= delta / 100 for delta in iou_thresholds])
        correct += hits
        fixed = _fixed(ious)
        iou_sum += fixed
        best_iou_sum += fixed.max()
        images += 1
        if flags is not None:
            predicted += 1
            if next(flags):
                correct_top1 += hits
    return {
        "correct": correct,
        "correct_top1": correct_top1,
        "images": np.int64(images),
        "predicted": np.int64(predicted),
        "iou_sum": iou_sum,
        "best_iou_sum": np.int64(best_iou_sum),
    }


class BoxEvaluator:
    """MaxBoxAcc(V2), GT-known Loc and Top-1 Loc over a box split, streaming.

    ``metadata``: the split (its boxes and original sizes); GT boxes are
    rescaled to ``protocol.eval_size``² once. ``accumulate`` takes score maps
    already normalized to that size (see :func:`normalize_scoremap`). The
    report field it fills is ``box``.
    """

    field: ClassVar[str] = "box"

    def __init__(self, metadata: SplitMetadata, protocol: EvalProtocol | None = None) -> None:
        if metadata.boxes is None:
            raise DataError(
                f"{metadata.folder or 'the split'} has no boxes (localization.txt); "
                "box metrics need them (for masks use MaskEvaluator / --mask-root)"
            )
        protocol = protocol or EvalProtocol()
        self.metadata = metadata
        self.protocol = protocol
        self.eval_size = protocol.eval_size
        self.cam_curve_interval = protocol.cam_curve_interval
        self.iou_thresholds = protocol.iou_thresholds
        self.multi_contour = protocol.multi_contour
        self.thresholds = cam_thresholds(self.cam_curve_interval)
        grid = (self.eval_size, self.eval_size)
        self.gt_boxes = {
            image_id: rescale_boxes(boxes, metadata.sizes[image_id], grid)
            for image_id, boxes in metadata.boxes.items()
        }
        self._state = evaluate_box_batch([], [], self.thresholds, self.iou_thresholds)

    def _check(self, scoremap: np.ndarray, image_id: str) -> None:
        if image_id not in self.gt_boxes:
            raise DataError(
                f"image id '{image_id}' is not in the metadata split {self.metadata.folder}"
            )
        check_in_unit_range(scoremap, image_id, self.eval_size)

    def accumulate(
        self, scoremap: np.ndarray, image_id: str, predicted_class: int | None = None
    ) -> None:
        """Add one image: its score map (eval_size², values in [0, 1]) and optional top-1 class."""
        self._check(scoremap, image_id)
        flags = None
        if predicted_class is not None:
            flags = [int(predicted_class) == self.metadata.labels[image_id]]
        batch = evaluate_box_batch(
            [scoremap],
            [self.gt_boxes[image_id]],
            self.thresholds,
            self.iou_thresholds,
            multi_contour=self.multi_contour,
            top1_correct=flags,
        )
        self.merge_state(batch)

    @classmethod
    def applies(cls, metadata: SplitMetadata, mask_root: object) -> bool:
        """A box split."""
        return metadata.boxes is not None

    @classmethod
    def for_split(
        cls, metadata: SplitMetadata, protocol: EvalProtocol, mask_root: object
    ) -> BoxEvaluator:
        """The evaluator of ``metadata`` under ``protocol``."""
        return cls(metadata, protocol)

    def accumulate_batch(self, batch: ScoredBatch) -> None:
        """Add a batch; Top-1 Loc counts its images when ``batch.top5`` is given."""
        flags = None
        if batch.top5 is not None:
            labels = self.metadata.labels
            top1 = batch.top5[:, 0]
            flags = [int(c) == labels[i] for c, i in zip(top1, batch.image_ids, strict=True)]
        for scoremap, image_id in zip(batch.scoremaps, batch.image_ids, strict=True):
            self._check(scoremap, image_id)
        self.merge_state(
            evaluate_box_batch(
                batch.scoremaps,
                [self.gt_boxes[i] for i in batch.image_ids],
                self.thresholds,
                self.iou_thresholds,
                multi_contour=self.multi_contour,
                top1_correct=flags,
            )
        )

    def state(self) -> dict[str, np.ndarray]:
        """The count arrays (copies): sum them across processes, then :meth:`merge_state`."""
        return {key: np.array(value, copy=True) for key, value in self._state.items()}

    def merge_state(self, state: dict[str, np.ndarray]) -> None:
        """Add another shard's counts (same protocol) to this evaluator's."""
        for key, value in state.items():
            value = np.asarray(value)
            if np.shape(value) != np.shape(self._state[key]):
                raise ValueError(
                    f"cannot merge '{key}' of shape {np.shape(value)} into "
                    f"{np.shape(self._state[key])}: "
                    "the shards used different thresholds or IoU levels"
                )
            self._state[key] = self._state[key] + value.astype(np.int64)

    def reset(self) -> None:
        """Forget every accumulated image."""
        self._state = evaluate_box_batch([], [], self.thresholds, self.iou_thresholds)

    def compute(self) -> LocalizationResult:
        """The result over every image accumulated so far (at least one)."""
        images = int(self._state["images"])
        if images == 0:
            raise DataError("no score map was accumulated: nothing to evaluate")
        predicted = int(self._state["predicted"])
        return LocalizationResult(
            iou_thresholds=self.iou_thresholds,
            thresholds=self.thresholds,
            images=images,
            correct=self._state["correct"].copy(),
            correct_top1=self._state["correct_top1"].copy() if predicted == images else None,
            multi_contour=self.multi_contour,
            cam_curve_interval=self.cam_curve_interval,
            iou_sum=self._state["iou_sum"].copy(),
            best_iou_sum=int(self._state["best_iou_sum"]),
        )


class ClassificationAccuracy:
    """Streaming top-k accuracy (top-1 and top-5) from the predicted classes, best first.

    The report field it fills is ``classification``; it stays empty (``compute``
    gives None) unless every image of the split came with predictions.
    """

    field: ClassVar[str] = "classification"

    def __init__(self, metadata: SplitMetadata | None = None, topk: Sequence[int] = (1, 5)) -> None:
        self.metadata = metadata
        self.topk = tuple(int(k) for k in topk)
        self.reset()

    @classmethod
    def applies(cls, metadata: SplitMetadata, mask_root: object) -> bool:
        """Every split: accuracy needs only labels and predictions."""
        return True

    @classmethod
    def for_split(
        cls, metadata: SplitMetadata, protocol: EvalProtocol, mask_root: object
    ) -> ClassificationAccuracy:
        """Top-1 and top-5 accuracy against ``metadata``'s labels."""
        return cls(metadata)

    def reset(self) -> None:
        """Forget every accumulated prediction."""
        self._correct = np.zeros(len(self.topk), dtype=np.int64)
        self._images = 0

    def accumulate(self, top_classes: np.ndarray, labels: np.ndarray) -> None:
        """Add a batch: ``top_classes`` B×k predicted classes (best first), ``labels`` B."""
        top_classes = np.asarray(top_classes)
        labels = np.asarray(labels).reshape(-1)
        if top_classes.ndim != 2 or top_classes.shape[0] != labels.shape[0]:
            raise ValueError(
                f"top_classes must be B×k and labels B, got {top_classes.shape} and {labels.shape}"
            )
        hit = top_classes[:, : max(self.topk)] == labels[:, None]
        for i, k in enumerate(self.topk):
            self._correct[i] += int(hit[:, :k].any(axis=1).sum())
        self._images += labels.shape[0]

    def accumulate_batch(self, batch: ScoredBatch) -> None:
        """Count a batch that carries predictions (labels from the metadata)."""
        if batch.top5 is None:
            return
        if self.metadata is None:
            raise ValueError("ClassificationAccuracy needs the split's metadata for its labels")
        labels = np.asarray([self.metadata.labels[i] for i in batch.image_ids])
        self.accumulate(batch.top5, labels)

    def state(self) -> dict[str, np.ndarray]:
        """Counts to merge across processes."""
        return {"correct": self._correct.copy(), "images": np.int64(self._images)}

    def merge_state(self, state: dict[str, np.ndarray]) -> None:
        """Add another shard's counts."""
        self._correct += np.asarray(state["correct"], dtype=np.int64)
        self._images += int(state["images"])

    def compute(self) -> ClassificationResult | None:
        """Top-k accuracies in percent; None when no prediction was accumulated."""
        if self._images == 0:
            return None
        return ClassificationResult(
            self._images, {k: int(c) for k, c in zip(self.topk, self._correct, strict=True)}
        )
