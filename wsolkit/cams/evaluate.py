"""Every metric of a split from a CAM store alone: no model, no images.

The result has the shape of the training engine's evaluation (``top1``,
``top5``, ``localization``, ``mask``, ``score``), so runs and stores compare
directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.cams.errors import CamStoreError


def store_metadata(store: Any, metadata: Path | None) -> Any:
    """The metadata split of a store: ``metadata`` if given, else the folder it records."""
    from wsolkit.data.metadata import read_split

    folder = metadata or (Path(store.provenance.metadata) if store.provenance.metadata else None)
    if folder is None or not Path(folder).is_dir():
        raise CamStoreError(
            store.path,
            f"the metadata folder of its split is unknown or gone ({folder or 'not recorded'}); "
            "pass --metadata SPLIT_DIR",
        )
    return read_split(folder, require_localization=True)


def recorded_mask_root(store: Any) -> Path | None:
    """The mask root of the dataset a model store was exported from (None if unknown)."""
    if not store.provenance.settings:
        return None
    try:
        from wsolkit.data.source import DataSource
        from wsolkit.settings import Settings

        settings = Settings.model_validate_json(store.provenance.settings)
        return DataSource.from_settings(settings.data).mask_root
    except Exception:  # noqa: BLE001 - a moved dataset only loses PxAP; the caller says so
        return None


def evaluate_store_report(
    path: Path,
    *,
    metadata: Path | None = None,
    mask_root: Path | None = None,
    cam_curve_interval: float = 0.001,
    iou_thresholds: Sequence[int] = (30, 50, 70),
    multi_contour: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[Any, dict[str, float]]:
    """The :class:`~wsolkit.metrics.EvaluationReport` of a store (Top-1 Loc from its
    stored predictions) and its top-1/top-5 classification accuracy."""
    from wsolkit.cams.store import CamStore
    from wsolkit.metrics import EvaluationReport
    from wsolkit.metrics.run import split_evaluators

    with CamStore.open(path) as store:
        store.require_complete()
        meta = store_metadata(store, metadata)
        size = store.resolve_eval_size(None)
        notes = []
        if meta.masks is not None and mask_root is None:
            mask_root = recorded_mask_root(store)
            if mask_root is None:
                notes.append("no PxAP: the dataset's mask folder is unknown (pass --mask-root)")
        box, mask = split_evaluators(
            meta,
            mask_root=mask_root,
            eval_size=size,
            cam_curve_interval=cam_curve_interval,
            iou_thresholds=iou_thresholds,
            multi_contour=multi_contour,
        )
        for n, row in enumerate(store.scoremaps(size), start=1):
            if box is not None:
                box.accumulate(row.scoremap, row.image_id, predicted_class=row.top1)
            if mask is not None:
                mask.accumulate(row.scoremap, row.image_id)
            if progress is not None and n % 256 == 0:
                progress(256)
        classification = _classification(store)
    report = EvaluationReport(
        box.compute() if box is not None else None,
        mask.compute() if mask is not None else None,
        notes,
    )
    return report, classification


def evaluate_store(path: Path, *, curves: bool = True, **protocol: Any) -> dict[str, Any]:
    """Classification accuracy (stored top-5), box metrics with Top-1 Loc, PxAP for masks,
    in the training engine's result format."""
    report, classification = evaluate_store_report(path, **protocol)
    result = report.box if report.box is not None else report.mask
    images = result.images if result is not None else 0
    return {"store": str(path), **classification, "images": images, **report.scores(curves=curves)}


def _classification(store: Any) -> dict[str, float]:
    top5 = store.top5
    if top5 is None:
        return {}
    classes = np.asarray(top5[0])
    labels = np.asarray(store.labels)[:, None]
    hits = classes == labels
    images = max(len(labels), 1)
    return {
        "top1": 100.0 * float(hits[:, :1].any(axis=1).sum()) / images,
        "top5": 100.0 * float(hits.any(axis=1).sum()) / images,
    }
