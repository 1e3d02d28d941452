"""Localization metrics that match wsolevaluation number for number (SPEC.md §2).

- :class:`BoxEvaluator`: BoxAcc curves per IoU level → MaxBoxAcc, MaxBoxAccV2,
  GT-known Loc and Top-1 Loc (:class:`LocalizationResult`).
- :class:`MaskEvaluator`: PxAP and its precision-recall curve (:class:`MaskResult`).
- :class:`ClassificationAccuracy`: top-1 / top-5 accuracy.
- :func:`normalize_scoremap`: raw CAM → score map, as the canonical inference does.
- :func:`evaluate_scoremaps`: a whole split of saved score maps, optionally in a
  process pool.

Evaluators stream (``accumulate`` / ``compute``) and keep only count arrays,
which ``state()`` / ``merge_state()`` sum across processes.
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
from wsolkit.metrics.results import ClassificationResult, LocalizationResult, MaskResult
from wsolkit.metrics.run import EvaluationReport, FolderSource, evaluate_scoremaps
from wsolkit.metrics.scoremaps import ScoremapFolder, check_scoremap, normalize_scoremap

__all__ = [
    "BoxEvaluator",
    "ClassificationAccuracy",
    "ClassificationResult",
    "EvaluationReport",
    "FolderSource",
    "LocalizationResult",
    "MaskEvaluator",
    "MaskResult",
    "ScoremapFolder",
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
