"""Create an empty CAM store: every dataset allocated for all planned rows.

The file is built under a temporary name and renamed into place, so the path
holds either nothing or a valid store with ``rows_done = 0`` — never a
half-made file. ``libver="earliest"`` keeps the superblock at version 0, which
has no "open for writing" status flags: a writer killed mid-export leaves a
file that opens again without ``h5clear``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from wsolkit.cams.schema import (
    CAMS,
    COMPLETE,
    COMPRESSION_LEVEL,
    FORMAT,
    IMAGE_IDS,
    LABELS,
    PREDICTION_SLOTS,
    ROWS_DONE,
    ROWS_TOTAL,
    SEMANTICS,
    TOP5_CLASSES,
    TOP5_SCORES,
    TOPK_CAMS,
    Layout,
    Provenance,
)
from wsolkit.io import atomic_path


def create_store_file(
    path: Path, ids: list[str], labels: np.ndarray, provenance: Provenance, layout: Layout
) -> None:
    """Write an empty store for ``ids`` (in this order) at ``path``, atomically."""
    n = len(ids)
    rows = min(layout.chunk_rows, n)
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w", libver="earliest") as f:
        f.attrs["format"] = FORMAT
        f.attrs[ROWS_TOTAL] = n
        f.attrs[ROWS_DONE] = 0
        f.attrs[COMPLETE] = False
        f.attrs["resolution"] = layout.resolution
        f.attrs["score_semantics"] = SEMANTICS[layout.resolution]
        f.attrs["map_height"], f.attrs["map_width"] = layout.map_shape
        f.attrs["map_dtype"] = layout.dtype.name
        f.attrs["chunk_rows"] = rows
        f.attrs["topk"] = layout.topk
        f.attrs["has_predictions"] = layout.predictions
        f.attrs["compression"] = f"shuffle+gzip level {COMPRESSION_LEVEL}"
        for key, value in provenance.to_attrs().items():
            f.attrs[key] = value
        f.create_dataset(IMAGE_IDS, data=ids, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset(LABELS, data=labels.astype("<i4"))
        if layout.predictions:
            f.create_dataset(TOP5_CLASSES, (n, PREDICTION_SLOTS), "<i4", fillvalue=-1)
            f.create_dataset(TOP5_SCORES, (n, PREDICTION_SLOTS), "<f4", fillvalue=np.nan)
        maps = {"compression": "gzip", "compression_opts": COMPRESSION_LEVEL, "shuffle": True}
        f.create_dataset(
            CAMS, (n, *layout.map_shape), layout.dtype, chunks=(rows, *layout.map_shape), **maps
        )
        if layout.topk:
            shape = (layout.topk, *layout.map_shape)
            f.create_dataset(TOPK_CAMS, (n, *shape), layout.dtype, chunks=(rows, *shape), **maps)
