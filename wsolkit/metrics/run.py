"""Evaluate a whole split of saved score maps, in this process or a pool of workers.

The maps come from a *source*: anything with ``describe()``, ``load(image_id) ->
S×S float64`` (checked, raising :class:`DataError`) and ``predictions(image_ids)
-> B×k classes or None`` that pickles cheaply. :class:`FolderSource` reads a
wsolevaluation score-map folder; :class:`~wsolkit.cams.CamStoreSource` a CAM
store (with its stored predictions). Work is split into chunks of image ids;
each worker feeds a :class:`~wsolkit.metrics.split.SplitEvaluation` of its own
and returns its state, and the states' sums give exactly the sequential result.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.report import EvaluationReport
from wsolkit.metrics.scoremaps import NaNScoremapError, ScoremapFolder, load_scoremap
from wsolkit.metrics.split import SplitEvaluation
from wsolkit.progress import Progress
from wsolkit.settings.protocol import EvalProtocol

CHUNK = 32


class ScoremapSource(Protocol):
    """Where score maps come from (a folder, a CAM store)."""

    def describe(self) -> str:
        """Where the maps are, for messages."""
        ...

    def load(self, image_id: str) -> np.ndarray:
        """The checked eval_size² float64 map of one image (raises DataError)."""
        ...

    def predictions(self, image_ids: Sequence[str]) -> np.ndarray | None:
        """B×k predicted classes of these images (best first), or None when unknown."""
        ...


@dataclass
class FolderSource:
    """Score maps in a wsolevaluation-style folder (either layout); no predictions."""

    folder: ScoremapFolder
    size: int

    def describe(self) -> str:
        """The folder path."""
        return str(self.folder.root)

    def load(self, image_id: str) -> np.ndarray:
        """Read and check the image's ``.npy``."""
        return load_scoremap(self.folder.paths[image_id], self.size)

    def predictions(self, image_ids: Sequence[str]) -> np.ndarray | None:
        """A score-map folder records no predictions."""
        return None


@dataclass
class _Task:
    """Everything a worker needs, sent once (picklable)."""

    source: ScoremapSource
    metadata: SplitMetadata
    protocol: EvalProtocol
    mask_root: Path | None


_WORKER: tuple[_Task, SplitEvaluation] | None = None


def _init_worker(task: _Task) -> None:
    global _WORKER
    _WORKER = (task, SplitEvaluation(task.metadata, task.protocol, mask_root=task.mask_root))
    cv2.setNumThreads(1)  # one process per core already


def evaluate_chunk(
    task: _Task, evaluation: SplitEvaluation, image_ids: Sequence[str]
) -> dict[str, Any]:
    """The state of one chunk of images (and the NaN maps found, reported at the end)."""
    evaluation.reset()
    nan: list[tuple[str, int]] = []
    maps: dict[str, np.ndarray] = {}
    for image_id in image_ids:
        try:
            maps[image_id] = task.source.load(image_id)
        except NaNScoremapError as exc:
            nan.append((exc.source, exc.count))
    ids = list(maps)
    if ids:
        predictions = getattr(task.source, "predictions", None)  # optional for a source
        top5 = predictions(ids) if predictions is not None else None
        evaluation.accumulate(list(maps.values()), ids, top5=top5)
    return {"state": evaluation.state(), "nan": nan, "images": len(image_ids)}


def _worker_chunk(image_ids: Sequence[str]) -> dict[str, Any]:
    assert _WORKER is not None
    return evaluate_chunk(*_WORKER, image_ids)


def evaluate_scoremaps(
    source: ScoremapSource,
    metadata: SplitMetadata,
    protocol: EvalProtocol | None = None,
    *,
    mask_root: Path | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Every metric of a split from its saved maps: box metrics (boxes in the metadata),
    PxAP (masks and ``mask_root``), accuracy and Top-1 Loc (a source with predictions).

    ``progress(done, total)`` is called after each chunk of images. Score maps holding
    NaN are counted over the whole split and then rejected in one error.
    """
    protocol = protocol or EvalProtocol()
    evaluation = SplitEvaluation(metadata, protocol, mask_root=mask_root)
    notes = _mask_notes(metadata, mask_root, evaluation)
    task = _Task(source, metadata, protocol, evaluation.mask_root)
    ids = list(metadata.image_ids)
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    nan_maps: list[tuple[str, int]] = []
    done = 0
    merged = SplitEvaluation(metadata, protocol, mask_root=mask_root)
    for result in _run_chunks(task, evaluation, chunks, workers):
        nan_maps += result["nan"]
        merged.merge(result["state"])
        done += result["images"]
        if progress is not None:
            progress(done, len(ids))
    if nan_maps:
        examples = ", ".join(f"{path} ({count} NaN)" for path, count in nan_maps[:3])
        raise DataError(
            f"{len(nan_maps)} score map(s) hold NaN, e.g. {examples}; the canonical evaluator "
            "rejects them (check_scoremap_validity) — regenerate them with normalize_scoremap, "
            "which turns a NaN CAM into zeros"
        )
    merged.notes = notes
    return merged.compute()


def _mask_notes(
    metadata: SplitMetadata, mask_root: Path | None, evaluation: SplitEvaluation
) -> list[str]:
    """What to tell about masks; a split with nothing to localize is an error."""
    notes: list[str] = []
    if metadata.masks is not None and mask_root is None:
        if metadata.boxes is None:
            raise DataError(
                f"{metadata.folder}: a mask split needs --mask-root (the folder its mask paths "
                "are relative to)"
            )
        notes.append("the split also has masks: pass --mask-root to compute PxAP")
    elif metadata.masks is None and mask_root is not None:
        notes.append(f"--mask-root ignored: {metadata.folder} has no masks")
    if not evaluation.localizes:
        raise DataError(f"{metadata.folder}: no boxes or masks to evaluate against")
    return notes


def _run_chunks(
    task: _Task, evaluation: SplitEvaluation, chunks: list[list[str]], workers: int
) -> Iterator[dict[str, Any]]:
    """Yield each chunk's result, in order, from this process or a spawn pool."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield evaluate_chunk(task, evaluation, chunk)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(task,)
    ) as pool:
        yield from pool.map(_worker_chunk, chunks)
