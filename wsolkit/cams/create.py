"""Create an empty CAM store: every dataset allocated for all planned rows.

The file is built in memory, checked against the free space (its size plus the
writer's reserve), written under a temporary name and renamed into place, so
the path holds either nothing or a valid store with ``rows_done = 0`` — never a
half-made file, and HDF5 never meets a full disk while creating it.
``libver="earliest"`` keeps the superblock at version 0, which has no "open for
writing" status flags: a writer killed mid-export leaves a file that opens
again without ``h5clear``. The user block holds the export's fingerprint.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

from wsolkit.cams.disk import RESERVE_BYTES
from wsolkit.cams.identity import USERBLOCK_BYTES, userblock
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
from wsolkit.io import atomic_path, require_free_space

WHAT = "CAM store"
NEW_STORE_FIX = "free space and run the same command again"


def create_store_file(
    path: Path,
    ids: list[str],
    labels: np.ndarray,
    provenance: Provenance,
    layout: Layout,
    fingerprint: str = "",
) -> None:
    """Write an empty store for ``ids`` (in this order) at ``path``, atomically.

    ``fingerprint`` (see :func:`~wsolkit.cams.identity.export_fingerprint`) goes
    into the user block. A disk without room for the store and the writer's
    reserve is refused before anything is written (``DiskWriteError``).
    """
    image = _store_image(ids, labels, provenance, layout, fingerprint)
    require_free_space(path, len(image) + RESERVE_BYTES, WHAT, fix=NEW_STORE_FIX)
    with atomic_path(path, suffix=".h5", what=WHAT) as tmp:
        tmp.write_bytes(image)


def _store_image(
    ids: list[str], labels: np.ndarray, provenance: Provenance, layout: Layout, fingerprint: str
) -> bytes:
    """The bytes of the new store (built by HDF5 in memory)."""
    n = len(ids)
    rows = min(layout.chunk_rows, n)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver="earliest", userblock_size=USERBLOCK_BYTES) as f:
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
    image = bytearray(buffer.getvalue())
    if fingerprint:
        image[:USERBLOCK_BYTES] = userblock(fingerprint)
    return bytes(image)
