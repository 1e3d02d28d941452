"""wsolevaluation score-map folders (one ``.npy`` per image) to and from CAM stores.

Both folder layouts in use are read (SPEC.md §5): ``DIR/<image_id>.npy`` (what
the canonical evaluator writes, ``123/456.JPEG.npy``) and ``DIR/<image_id
minus extension>.npy`` (``123/456.npy``); an id found both ways, or in neither,
is an error. A map must be 2-D, hold no NaN and lie in [0, 1] (SPEC §2.3).

TODO(metrics): the metrics package will have its own folder reader for
``wsolkit eval --scoremaps``; the two should share one implementation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np

from wsolkit.errors import DataError
from wsolkit.io import atomic_path

NpyLayout = Literal["with-ext", "without-ext"]
LAYOUTS: tuple[str, ...] = ("with-ext", "without-ext")
Progress = Callable[[int, int], None]


def scoremap_path(folder: Path, image_id: str, layout: NpyLayout) -> Path:
    """Where ``image_id``'s map lives in ``folder`` under ``layout``."""
    name = image_id if layout == "with-ext" else os.path.splitext(image_id)[0]
    return folder / f"{name}.npy"


def locate_scoremaps(folder: Path, image_ids: Iterable[str]) -> list[Path]:
    """The ``.npy`` file of every id, accepting both layouts; ambiguity or absence is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: score-map folder not found")
    found: list[Path] = []
    missing: list[str] = []
    for image_id in image_ids:
        with_ext = scoremap_path(folder, image_id, "with-ext")
        without = scoremap_path(folder, image_id, "without-ext")
        has_with, has_without = with_ext.is_file(), without != with_ext and without.is_file()
        if has_with and has_without:
            raise DataError(
                f"{folder}: image '{image_id}' has a score map in both layouts ({with_ext.name} "
                f"and {without.name}); keep one of them"
            )
        if has_with or has_without:
            found.append(with_ext if has_with else without)
        else:
            missing.append(image_id)
    if missing:
        raise DataError(
            f"{folder}: no score map for {len(missing)} image(s), e.g. "
            f"{scoremap_path(folder, missing[0], 'with-ext').name} (or "
            f"{scoremap_path(folder, missing[0], 'without-ext').name}) for '{missing[0]}'"
        )
    return found


def read_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, without reading its data."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    return tuple(shape), np.dtype(dtype)


def check_headers(paths: list[Path]) -> tuple[tuple[int, int], np.dtype]:
    """The common S×S shape and the widest float dtype of the maps; anything else is an error."""
    shape: tuple[int, ...] | None = None
    widest = 2
    for path in paths:
        this_shape, dtype = read_header(path)
        if dtype.kind != "f" or dtype.itemsize > 8:
            raise DataError(f"{path}: score map dtype {dtype} is not float16/32/64")
        if len(this_shape) != 2:
            raise DataError(f"{path}: score map has shape {this_shape}; it must be 2-D (S×S)")
        if shape is None:
            shape = this_shape
            if shape[0] != shape[1]:
                raise DataError(f"{path}: score map is {shape}; evaluation maps are square S×S")
        elif this_shape != shape:
            raise DataError(f"{path}: score map is {this_shape}, the first one was {shape}")
        widest = max(widest, dtype.itemsize)
    if shape is None:
        raise DataError("no score maps to read (the split lists no images)")
    return (int(shape[0]), int(shape[1])), np.dtype(f"<f{widest}")


def load_scoremap(path: Path) -> np.ndarray:
    """A validated score map as stored (2-D float, no NaN, values in [0, 1])."""
    try:
        scoremap = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if scoremap.ndim != 2:
        raise DataError(f"{path}: score map has shape {scoremap.shape}; it must be 2-D")
    if np.isnan(scoremap).any():
        raise DataError(f"{path}: score map holds NaN; write valid score maps in [0, 1]")
    low, high = float(scoremap.min()), float(scoremap.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{path}: score map values lie in [{low:.6g}, {high:.6g}], outside [0, 1]; "
            "score maps must be normalized (SPEC 2.2)"
        )
    return scoremap


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_scoremaps` did."""

    store: Path
    rows: int  # rows in the store now
    imported: int  # rows this call added
    resumed_from: int  # 0 for a new store
    map_shape: tuple[int, int]
    dtype: str


def import_scoremaps(
    folder: Path | str,
    metadata: Path | str,
    out: Path | str,
    *,
    dtype: str = "auto",
    overwrite: bool = False,
    batch: int = 64,
    progress: Progress | None = None,
) -> ImportResult:
    """Turn a score-map folder into a ``full`` store, labels and order from the metadata.

    Values are kept exactly: ``dtype="auto"`` stores the widest float type
    found (float64 for the canonical evaluator's files); ``float32`` halves
    the size and rounds float64 maps. An interrupted import resumes like an
    export; a different folder or metadata is refused unless ``overwrite``.
    """
    from wsolkit.cams.schema import Provenance
    from wsolkit.cams.writer import CamBatch, CamStoreWriter
    from wsolkit.data.metadata import read_split

    folder, metadata = Path(folder), Path(metadata)
    split = read_split(metadata)
    ids = split.image_ids
    paths = locate_scoremaps(folder, ids)
    shape, widest = check_headers(paths)
    provenance = Provenance(
        source=f"scoremaps:{folder.resolve()}",
        metadata=str(metadata.resolve()),
        split=metadata.name,
        eval_size=shape[0],
    )
    writer = CamStoreWriter.open_or_resume(
        out,
        ids=ids,
        labels=[split.labels[i] for i in ids],
        provenance=provenance,
        map_shape=shape,
        resolution="full",
        dtype=widest.name if dtype == "auto" else dtype,
        predictions=False,
        overwrite=overwrite,
        progress=progress,
    )
    start = writer.start
    with writer:
        for a in range(start, len(ids), batch):
            chunk = range(a, min(a + batch, len(ids)))
            maps = np.stack([load_scoremap(paths[i]) for i in chunk])
            writer.put(CamBatch(maps, image_ids=[ids[i] for i in chunk]))
    done = writer.rows_done
    return ImportResult(Path(out), done, done - start, start, shape, writer.layout.dtype.name)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_npy` wrote."""

    out_dir: Path
    layout: str
    files: int
    eval_size: int
    complete: bool


def export_npy(
    store_path: Path | str,
    out_dir: Path | str,
    *,
    layout: NpyLayout = "with-ext",
    eval_size: int | None = None,
    allow_incomplete: bool = False,
    workers: int = 4,
    progress: Progress | None = None,
) -> ExportResult:
    """Write one float64 S×S score map per image, each file atomically.

    Raw CAMs are normalized with SPEC §2.2 at ``eval_size`` (default: the
    store's); full maps are cast to float64 as they are. A file of the other
    layout for the same image is an error (the folder would be ambiguous).
    """
    from wsolkit.cams.store import CamStore

    if layout not in LAYOUTS:
        raise DataError(f"layout must be one of {LAYOUTS}, got '{layout}'")
    out = Path(out_dir)
    with CamStore.open(store_path) as store:
        if not allow_incomplete:
            store.require_complete()
        size = store.resolve_eval_size(eval_size)
        total = len(store)
        rows = store.scoremaps(size, allow_incomplete=True)
        jobs = ((_target(out, row.image_id, layout), row.scoremap) for row in rows)
        written = _write_all(jobs, total, workers, progress)
        return ExportResult(out, layout, written, size, store.complete)


def _target(out: Path, image_id: str, layout: NpyLayout) -> Path:
    parts = PurePosixPath(image_id).parts
    if not parts or PurePosixPath(image_id).is_absolute() or ".." in parts:
        raise DataError(f"image id '{image_id}' would be written outside {out}; refusing")
    other: NpyLayout = "without-ext" if layout == "with-ext" else "with-ext"
    target, clash = scoremap_path(out, image_id, layout), scoremap_path(out, image_id, other)
    if clash != target and clash.exists():
        raise DataError(
            f"{clash} exists beside {target.name}, which this export writes: the folder would "
            "hold both layouts; remove it or export to an empty folder"
        )
    return target


def _write_all(
    jobs: Iterator[tuple[Path, np.ndarray]], total: int, workers: int, progress: Progress | None
) -> int:
    """Save every (path, map) with a few threads (fsync waits overlap); keep order of errors."""
    written = 0
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for target, scoremap in jobs:
            pending.append(pool.submit(_save, target, scoremap))
            if len(pending) >= 4 * max(1, workers):
                pending.pop(0).result()
                written += 1
                if progress is not None:
                    progress(written, total)
        for future in pending:
            future.result()
            written += 1
            if progress is not None:
                progress(written, total)
    return written


def _save(target: Path, scoremap: np.ndarray) -> None:
    with atomic_path(target, suffix=".npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(scoremap, dtype=np.float64), allow_pickle=False)
