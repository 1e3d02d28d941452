"""Is an existing store the same export as the one asked for? (resume or refuse)

A store may only be continued by the export that created it: the same
checkpoint, settings, dataset, split, image ids and labels, and the same map
layout. Any difference is a one-line error that names the first differing fact
and says how to start over.

The same facts, hashed, are the store's *export fingerprint*, written in the
HDF5 user block (the first :data:`USERBLOCK_BYTES` bytes, which HDF5 never
touches). A file too damaged to open still says which export made it, so a
rerun of that export may start it over by itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.cams.errors import CamStoreError
from wsolkit.cams.schema import FORMAT, Layout, Provenance
from wsolkit.cams.store import CamStore

FIX = "pass --overwrite to replace it, or write to another file"
USERBLOCK_BYTES = 512
_TAG = f"{FORMAT} export sha256:".encode()


def export_fingerprint(
    ids: list[str], labels: np.ndarray, provenance: Provenance, layout: Layout
) -> str:
    """SHA-256 (hex) of everything :func:`check_same_store` compares."""
    facts = {
        "provenance": {key: getattr(provenance, key) for key in Provenance.IDENTITY},
        "layout": [
            layout.resolution,
            list(layout.map_shape),
            layout.dtype.name,
            layout.topk,
            layout.predictions,
        ],
        "ids": ids,
        "labels": [int(v) for v in labels],
    }
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def userblock(fingerprint: str) -> bytes:
    """The store's user block: a text line naming the format and the export, zero padded."""
    line = _TAG + fingerprint.encode("ascii") + b"\n"
    return line.ljust(USERBLOCK_BYTES, b"\0")


def stored_fingerprint(path: Path) -> str | None:
    """The export fingerprint in ``path``'s user block; None for another or older file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(USERBLOCK_BYTES)
    except OSError:
        return None
    if not head.startswith(_TAG):
        return None
    value = head[len(_TAG) :].split(b"\n", 1)[0]
    return value.decode("ascii", "replace") if len(value) == 64 else None


def check_same_store(
    store: CamStore, ids: list[str], labels: np.ndarray, provenance: Provenance, layout: Layout
) -> None:
    """Raise :class:`CamStoreError` unless ``store`` can be resumed with these inputs."""
    old = store.provenance
    for key in Provenance.IDENTITY:
        before, now = getattr(old, key), getattr(provenance, key)
        if before != now:
            raise CamStoreError(store.path, f"{_describe(key, before, now)}; {FIX}")
    for key in ("resolution", "map_shape", "topk", "predictions"):
        before, now = getattr(store.layout, key), getattr(layout, key)
        if before != now:
            raise CamStoreError(store.path, f"was made with {key} {before}, not {now}; {FIX}")
    if store.layout.dtype != layout.dtype:
        raise CamStoreError(
            store.path,
            f"was made with dtype {store.layout.dtype.name}, not {layout.dtype.name}; {FIX}",
        )
    planned = store.planned_ids
    if planned != ids:
        raise CamStoreError(store.path, f"{_first_id_difference(planned, ids)}; {FIX}")
    stored = store.planned_labels
    if not np.array_equal(stored, labels):
        row = int(np.argmax(stored != labels))
        raise CamStoreError(
            store.path,
            f"label of '{ids[row]}' (row {row}) is {int(stored[row])} in the store, "
            f"{int(labels[row])} now; {FIX}",
        )


def _describe(key: str, before: Any, now: Any) -> str:
    if key == "checkpoint_sha256":
        return (
            f"was made by another checkpoint (SHA-256 {str(before)[:12] or 'none'}…, "
            f"not {str(now)[:12] or 'none'}…)"
        )
    if key == "settings":
        where = _first_settings_difference(str(before), str(now))
        return "was made with other settings" + (f" ({where})" if where else "")
    if key in ("extractor", "stage") and not before:
        before = "cam" if key == "extractor" else "the final feature map"
    if key == "stage" and not now:
        now = "the final feature map"
    return f"was made for {key} '{before}', not '{now}'"


def _first_settings_difference(before: str, now: str) -> str:
    """``optim.lr: 0.01 -> 0.02`` for JSON settings; empty when not comparable."""
    try:
        a, b = json.loads(before or "{}"), json.loads(now or "{}")
    except ValueError:
        return ""
    return _walk(a, b, "")


def _walk(a: Any, b: Any, prefix: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                return f"{name}: {a.get(key, '<unset>')} -> {b.get(key, '<unset>')}"
            found = _walk(a[key], b[key], name)
            if found:
                return found
        return ""
    return f"{prefix or 'settings'}: {a} -> {b}" if a != b else ""


def _first_id_difference(planned: list[str], ids: list[str]) -> str:
    if len(planned) != len(ids):
        return f"was planned for {len(planned)} images, not {len(ids)}"
    row = next(i for i, (a, b) in enumerate(zip(planned, ids, strict=True)) if a != b)
    return f"row {row} is planned for '{planned[row]}', not '{ids[row]}' (another image list)"
