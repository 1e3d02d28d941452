"""Every metric of a split from a CAM store alone: no model, no images.

The store is a score-map source of :func:`wsolkit.metrics.evaluate_scoremaps`
(with its stored predictions, so accuracy and Top-1 Loc come too): the same
evaluation loop as training and score-map folders, optionally in worker
processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.cams.errors import CamStoreError
from wsolkit.data.metadata import SplitMetadata
from wsolkit.metrics.report import EvaluationReport
from wsolkit.settings.protocol import EvalProtocol


def store_metadata(store: Any, metadata: Path | None) -> SplitMetadata:
    """The metadata split of a store: ``metadata`` if given, else the folder it records.

    The split must list the store's images with the store's labels: a store is
    never scored against another split (the first disagreeing image is named).
    """
    from wsolkit.data.metadata import read_split

    folder = metadata or (Path(store.provenance.metadata) if store.provenance.metadata else None)
    if folder is None or not Path(folder).is_dir():
        raise CamStoreError(
            store.path,
            f"the metadata folder of its split is unknown or gone ({folder or 'not recorded'}); "
            "pass --metadata SPLIT_DIR",
        )
    split = read_split(folder, require_localization=True)
    check_same_images(store, split)
    return split


def check_same_images(store: Any, split: SplitMetadata) -> None:
    """Refuse a split whose images or labels differ from the store's, naming the first one."""
    ids, labels = store.planned_ids, store.planned_labels
    where = split.folder or "the metadata"
    listed = set(split.image_ids)
    for image_id in ids:
        if image_id not in listed:
            raise CamStoreError(
                store.path,
                f"holds image '{image_id}', which {where} does not list; evaluate the store "
                "with the metadata split it was exported for",
            )
    if len(split.image_ids) != len(ids):
        stored = set(ids)
        extra = next(i for i in split.image_ids if i not in stored)
        raise CamStoreError(
            store.path,
            f"has no map of '{extra}', which {where} lists ({len(split.image_ids)} images, the "
            f"store {len(ids)}); evaluate it with the metadata split it was exported for",
        )
    for image_id, label in zip(ids, np.asarray(labels).tolist(), strict=True):
        if split.labels[image_id] != label:
            raise CamStoreError(
                store.path,
                f"labels '{image_id}' as class {label}, {where} as class "
                f"{split.labels[image_id]}; evaluate it with the metadata it was exported for",
            )


def recorded_mask_root(store: Any) -> Path | None:
    """The mask root of the dataset a model store was exported from (None if unknown)."""
    from wsolkit.errors import WsolkitError

    try:
        return store.data_source().mask_root
    except WsolkitError:  # a moved or unknown dataset only loses PxAP; the caller says so
        return None


def recorded_protocol(store: Any) -> EvalProtocol:
    """The protocol the store's run was evaluated with (the canonical one when unknown), at
    the store's evaluation size."""
    size = store.resolve_eval_size(None)
    settings = store.settings()
    return (settings.protocol if settings is not None else EvalProtocol()).with_eval_size(size)


def evaluate_store(
    path: Path,
    protocol: EvalProtocol | None = None,
    *,
    metadata: Path | None = None,
    mask_root: Path | None = None,
    workers: int = 1,
    progress: Any = None,
) -> EvaluationReport:
    """Accuracy and Top-1 Loc (from the stored predictions), box metrics and PxAP of a store.

    ``protocol`` defaults to the one its run was evaluated with
    (:func:`recorded_protocol`); the mask folder to the dataset's it records.
    """
    from wsolkit.cams.source import CamStoreSource
    from wsolkit.cams.store import CamStore
    from wsolkit.metrics import evaluate_scoremaps

    with CamStore.open(path) as store:
        store.require_complete()
        split = store_metadata(store, metadata)
        protocol = protocol or recorded_protocol(store)
        size = store.resolve_eval_size(protocol.eval_size)
        if split.masks is not None and mask_root is None:
            mask_root = recorded_mask_root(store)
    with CamStoreSource(path, size) as source:
        return evaluate_scoremaps(
            source,
            split,
            protocol.with_eval_size(size),
            mask_root=mask_root,
            workers=workers,
            progress=progress,
        )


def evaluate_store_tscam(
    path: Path | str,
    tau: float,
    *,
    metadata: Path | None = None,
    progress: Any = None,
) -> Any:
    """TS-CAM's Top-1 / Top-5 / GT-known Loc at threshold ``tau`` from a raw CAM store
    (:mod:`wsolkit.metrics.tscam`): bilinear resize to the store's evaluation size, its box
    rule and box scaling. Needs raw CAMs (a full-resolution store was resized the canonical,
    bicubic way) and the stored predictions."""
    from wsolkit.cams.store import CamStore
    from wsolkit.metrics.tscam import TsCamLocalization

    with CamStore.open(path) as store:
        store.require_complete()
        if store.resolution != "raw":
            raise CamStoreError(
                store.path,
                "TS-CAM's numbers need raw CAMs (they resize bilinearly); export with "
                "--resolution raw",
            )
        if not store.has_predictions:
            raise CamStoreError(store.path, "the store keeps no predictions: Top-1 Loc needs them")
        split = store_metadata(store, metadata)
        evaluation = TsCamLocalization(split, tau, store.eval_size)
        total = len(store)
        for row in store.rows():
            assert row.top5 is not None
            evaluation.accumulate(row.cam, row.image_id, row.top5)
            if progress is not None and (row.index + 1) % 256 == 0:
                progress(row.index + 1, total, "TS-CAM convention")
        if progress is not None:
            progress(total, total, "TS-CAM convention")
        return evaluation.compute()
