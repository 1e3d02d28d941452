"""Evaluate a whole split of saved score maps, in this process or a pool of workers.

The maps come from a *source*: anything with ``describe()`` and
``load(image_id) -> H×W float64`` (checked, raising :class:`DataError`) that
pickles cheaply. :class:`FolderSource` reads a wsolevaluation score-map
folder; a CAM store can be a source the same way (``wsolkit eval --cams``).
Work is split into chunks of image ids; each chunk returns count arrays
(:func:`evaluate_chunk`), and their sums give exactly the sequential result.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.evaluator import BoxEvaluator, evaluate_box_batch
from wsolkit.metrics.pxap import MaskEvaluator, ground_truth_mask, mask_histograms
from wsolkit.metrics.results import LocalizationResult, MaskResult
from wsolkit.metrics.scoremaps import NaNScoremapError, ScoremapFolder, load_scoremap

CHUNK = 32


class ScoremapSource(Protocol):
    """Where score maps come from (a folder today, a CAM store later)."""

    def describe(self) -> str:
        """Where the maps are, for messages."""
        ...

    def load(self, image_id: str) -> np.ndarray:
        """The checked eval_size² float64 map of one image (raises DataError)."""
        ...


@dataclass
class FolderSource:
    """Score maps in a wsolevaluation-style folder (either layout)."""

    folder: ScoremapFolder
    size: int

    def describe(self) -> str:
        """The folder path."""
        return str(self.folder.root)

    def load(self, image_id: str) -> np.ndarray:
        """Read and check the image's ``.npy``."""
        return load_scoremap(self.folder.paths[image_id], self.size)


@dataclass
class EvaluationReport:
    """What ``wsolkit eval`` computed: box and/or mask results, and notes for the user."""

    box: LocalizationResult | None
    mask: MaskResult | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """One JSON object: the box keys at the top level, ``pxap`` beside them."""
        out: dict[str, Any] = {}
        if self.box is not None:
            out.update(self.box.to_dict(curves=curves))
        elif self.mask is not None:
            out["images"] = self.mask.images
        if self.mask is not None:
            mask = self.mask.to_dict(curves=curves)
            out["pxap"] = mask.pop("pxap")
            out["mask_images"] = mask.pop("images")
            if curves:
                out["pxap_curve"] = mask["pr_curve"]
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def scores(self, *, curves: bool = False) -> dict[str, Any]:
        """The training engine's result shape: ``localization`` and/or ``mask``, plus the
        checkpoint-selection ``score`` (MaxBoxAccV2, or PxAP for a mask-only split)."""
        out: dict[str, Any] = {}
        if self.box is not None:
            out["localization"] = self.box.to_dict(curves=curves)
            out["score_name"], out["score"] = "MaxBoxAccV2", out["localization"]["max_box_acc_v2"]
        if self.mask is not None:
            out["mask"] = self.mask.to_dict(curves=curves)
            if self.box is None:
                out["score_name"], out["score"] = "PxAP", out["mask"]["pxap"]
        return out


def split_evaluators(
    metadata: SplitMetadata,
    *,
    mask_root: Path | None,
    eval_size: int,
    cam_curve_interval: float,
    iou_thresholds: Sequence[int],
    multi_contour: bool,
) -> tuple[BoxEvaluator | None, MaskEvaluator | None]:
    """The evaluators a split supports: boxes if it has them, masks if it has them and
    ``mask_root`` is known."""
    box = mask = None
    if metadata.boxes is not None:
        box = BoxEvaluator(
            metadata,
            eval_size=eval_size,
            cam_curve_interval=cam_curve_interval,
            iou_thresholds=tuple(iou_thresholds),
            multi_contour=multi_contour,
        )
    if metadata.masks is not None and mask_root is not None:
        mask = MaskEvaluator(
            metadata,
            mask_root=mask_root,
            eval_size=eval_size,
            cam_curve_interval=cam_curve_interval,
        )
    return box, mask


@dataclass
class _Task:
    """Everything a worker needs, sent once (picklable)."""

    source: ScoremapSource
    gt_boxes: dict[str, np.ndarray] | None
    thresholds: np.ndarray
    iou_thresholds: tuple[int, ...]
    multi_contour: bool
    masks: dict[str, tuple[list[str], str | None]] | None
    mask_root: Path | None
    edges: np.ndarray | None
    size: int


_WORKER_TASK: _Task | None = None


def _init_worker(task: _Task) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task
    cv2.setNumThreads(1)  # one process per core already


def evaluate_chunk(task: _Task, image_ids: Sequence[str]) -> dict[str, Any]:
    """Count arrays of one chunk of images (box state, mask histograms, NaN maps found)."""
    out: dict[str, Any] = {"nan": [], "images": len(image_ids)}
    maps: dict[str, np.ndarray] = {}
    for image_id in image_ids:
        try:
            maps[image_id] = task.source.load(image_id)
        except NaNScoremapError as exc:
            out["nan"].append((exc.source, exc.count))
    if task.gt_boxes is not None:
        out["box"] = evaluate_box_batch(
            list(maps.values()),
            [task.gt_boxes[i] for i in maps],
            task.thresholds,
            task.iou_thresholds,
            multi_contour=task.multi_contour,
        )
    if task.masks is not None and task.edges is not None and task.mask_root is not None:
        positive = np.zeros(task.edges.size - 1, np.int64)
        negative = np.zeros_like(positive)
        for image_id, scoremap in maps.items():
            mask_paths, ignore = task.masks[image_id]
            fg, ig = ground_truth_mask(task.mask_root, mask_paths, ignore, task.size)
            pos, neg = mask_histograms(scoremap, fg, ig, task.edges)
            positive += pos
            negative += neg
        out["mask"] = {"positive": positive, "negative": negative, "images": np.int64(len(maps))}
    return out


def _worker_chunk(image_ids: Sequence[str]) -> dict[str, Any]:
    assert _WORKER_TASK is not None
    return evaluate_chunk(_WORKER_TASK, image_ids)


def evaluate_scoremaps(
    source: ScoremapSource,
    metadata: SplitMetadata,
    *,
    mask_root: Path | None = None,
    eval_size: int = 224,
    cam_curve_interval: float = 0.001,
    iou_thresholds: Sequence[int] = (30, 50, 70),
    multi_contour: bool = True,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> EvaluationReport:
    """Box metrics (boxes in the metadata) and PxAP (masks and ``mask_root``) of a split.

    ``progress(n)`` is called after each chunk of n images. Score maps holding
    NaN are counted over the whole split and then rejected in one error.
    """
    notes: list[str] = []
    box, mask = split_evaluators(
        metadata,
        mask_root=mask_root,
        eval_size=eval_size,
        cam_curve_interval=cam_curve_interval,
        iou_thresholds=iou_thresholds,
        multi_contour=multi_contour,
    )
    if metadata.masks is not None and mask_root is None:
        if box is None:
            raise DataError(
                f"{metadata.folder}: a mask split needs --mask-root (the folder its mask paths "
                "are relative to)"
            )
        else:
            notes.append("the split also has masks: pass --mask-root to compute PxAP")
    elif metadata.masks is None and mask_root is not None:
        notes.append(f"--mask-root ignored: {metadata.folder} has no masks")
    if box is None and mask is None:
        raise DataError(f"{metadata.folder}: no boxes or masks to evaluate against")
    task = _Task(
        source=source,
        gt_boxes=box.gt_boxes if box else None,
        thresholds=box.thresholds if box else np.zeros(0),
        iou_thresholds=box.iou_thresholds if box else (),
        multi_contour=multi_contour,
        masks=(
            {i: (m.mask_paths, m.ignore_path) for i, m in (metadata.masks or {}).items()}
            if mask
            else None
        ),
        mask_root=Path(mask_root) if mask else None,
        edges=mask.edges if mask else None,
        size=eval_size,
    )
    ids = list(metadata.image_ids)
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    nan_maps: list[tuple[str, int]] = []
    for result in _run_chunks(task, chunks, workers):
        nan_maps += result["nan"]
        if box is not None:
            box.merge_state(result["box"])
        if mask is not None:
            mask.merge_state(result["mask"])
        if progress is not None:
            progress(result["images"])
    if nan_maps:
        examples = ", ".join(f"{path} ({count} NaN)" for path, count in nan_maps[:3])
        raise DataError(
            f"{len(nan_maps)} score map(s) hold NaN, e.g. {examples}; the canonical evaluator "
            "rejects them (check_scoremap_validity) — regenerate them with normalize_scoremap, "
            "which turns a NaN CAM into zeros"
        )
    return EvaluationReport(box.compute() if box else None, mask.compute() if mask else None, notes)


def _run_chunks(task: _Task, chunks: list[list[str]], workers: int) -> Iterator[dict[str, Any]]:
    """Yield each chunk's result, in order, from this process or a spawn pool."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield evaluate_chunk(task, chunk)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(task,)
    ) as pool:
        yield from pool.map(_worker_chunk, chunks)
