"""Localization metrics that match wsolevaluation number for number (SPEC.md §2).

- :class:`SplitEvaluation`: every metric of a split (the one evaluation loop),
  fed batch by batch, merged across processes, computing an :class:`EvaluationReport`.
- :class:`BoxEvaluator`: BoxAcc curves per IoU level → MaxBoxAcc, MaxBoxAccV2,
  GT-known Loc and Top-1 Loc (:class:`LocalizationResult`).
- :class:`MaskEvaluator`: PxAP and its precision-recall curve (:class:`MaskResult`).
- :class:`ClassificationAccuracy`: top-1 / top-5 accuracy.
- :class:`SplitScores` and friends: the numbers, typed and serializable.
- :func:`normalize_scoremap`: raw CAM → score map, as the canonical inference does.
- :func:`evaluate_scoremaps`: a whole split of saved score maps, optionally in a
  process pool.

Every evaluator takes the split's metadata and one frozen
:class:`~wsolkit.settings.EvalProtocol`; they stream (``accumulate`` /
``compute``) and keep only count arrays, which ``state()`` / ``merge`` sum
across processes.
"""

from __future__ import annotations

from wsolkit.metrics.boxes import cam_thresholds, contour_boxes, inclusive_iou, rescale_box
from wsolkit.metrics.contours import level_ious, threshold_ious
from wsolkit.metrics.evaluator import (
    BoxEvaluator,
    ClassificationAccuracy,
    box_correct,
    evaluate_box_batch,
)
from wsolkit.metrics.pxap import MaskEvaluator, pxap_from_histograms, score_histogram
from wsolkit.metrics.report import EvaluationReport
from wsolkit.metrics.results import ClassificationResult, LocalizationResult, MaskResult
from wsolkit.metrics.run import FolderSource, evaluate_scoremaps
from wsolkit.metrics.scoremaps import ScoremapFolder, check_scoremap, normalize_scoremap
from wsolkit.metrics.scores import LocalizationScores, MaskScores, SplitScores
from wsolkit.metrics.split import EVALUATORS, ScoredBatch, SplitEvaluation
from wsolkit.settings.protocol import EvalProtocol

__all__ = [
    "EVALUATORS",
    "BoxEvaluator",
    "ClassificationAccuracy",
    "ClassificationResult",
    "EvalProtocol",
    "EvaluationReport",
    "FolderSource",
    "LocalizationResult",
    "LocalizationScores",
    "MaskEvaluator",
    "MaskResult",
    "MaskScores",
    "ScoredBatch",
    "ScoremapFolder",
    "SplitEvaluation",
    "SplitScores",
    "box_correct",
    "cam_thresholds",
    "check_scoremap",
    "contour_boxes",
    "evaluate_box_batch",
    "evaluate_scoremaps",
    "inclusive_iou",
    "level_ious",
    "normalize_scoremap",
    "pxap_from_histograms",
    "rescale_box",
    "score_histogram",
    "threshold_ious",
]
