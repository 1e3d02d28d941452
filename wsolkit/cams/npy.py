"""wsolevaluation score-map folders (one ``.npy`` per image) to and from CAM stores.

Reading uses the metrics package's folder reader, so ``import-scoremaps``
accepts exactly what ``wsolkit eval --scoremaps`` accepts: both layouts
(``DIR/<image_id>.npy`` and ``DIR/<image_id minus extension>.npy``, SPEC.md
§5), 2-D S×S float maps without NaN within [0, 1]. Writing produces float64
maps in the layout asked for, each file atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np

from wsolkit.errors import DataError
from wsolkit.io import DiskWriteError, atomic_path
from wsolkit.progress import Progress

NpyLayout = Literal["with-ext", "without-ext"]
LAYOUTS: tuple[str, ...] = ("with-ext", "without-ext")


def scoremap_path(folder: Path, image_id: str, layout: NpyLayout) -> Path:
    """Where ``image_id``'s map lives in ``folder`` under ``layout``.

    ``without-ext`` drops the extension of the id's last component
    (``123/456.JPEG`` → ``123/456.npy``), as the metrics folder reader does.
    """
    name = PurePosixPath(image_id)
    if layout == "without-ext" and name.suffix:
        name = name.with_suffix("")
    return folder / f"{name}.npy"


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
    """The common S×S shape and the widest float dtype of the maps, from headers alone.

    Run before a store is created: its dtype must hold every map exactly, and a
    map of another shape or a non-float type should stop the import at once.
    """
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


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_scoremaps` did."""

    store: Path
    rows: int  # rows in the store now
    imported: int  # rows this call added
    resumed_from: int  # 0 for a new store
    map_shape: tuple[int, int]
    dtype: str
    ignored: int = 0  # .npy files under the folder that belong to no listed image


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
    found (float64 for the canonical evaluator's files; float32 files stay
    float32, their values unchanged); ``float32`` halves the size of a float64
    folder and rounds its values. ``.npy`` files of no listed image are ignored.
    An interrupted import resumes like an export; a different folder or
    metadata is refused unless ``overwrite``.
    """
    from wsolkit.cams.schema import Provenance
    from wsolkit.cams.writer import CamBatch, CamStoreWriter
    from wsolkit.data.metadata import read_split
    from wsolkit.metrics.scoremaps import ScoremapFolder, load_scoremap

    folder, metadata = Path(folder), Path(metadata)
    split = read_split(metadata)
    ids = split.image_ids
    found = ScoremapFolder.scan(folder, ids)
    paths = [found.paths[i] for i in ids]
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
            maps = np.stack([load_scoremap(paths[i], shape[0]) for i in chunk])
            writer.put(CamBatch(maps, image_ids=[ids[i] for i in chunk]))
    done = writer.rows_done
    return ImportResult(
        Path(out), done, done - start, start, shape, writer.layout.dtype.name, found.extra
    )


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
    if out.exists() and not out.is_dir():
        raise DataError(
            f"{out} exists and is not a folder; give a folder for the .npy files "
            "(it is created if missing)"
        )
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
    """Save every (path, map) with a few threads (fsync waits overlap); keep order of errors.

    A full or read-only disk stops the export with one line saying how many
    files were written (each file is whole: a rerun writes them all again).
    """
    written = 0
    pending: list[Future[None]] = []

    def finish(future: Future[None]) -> None:
        nonlocal written
        future.result()
        written += 1
        if progress is not None:
            progress(written, total)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            try:
                for target, scoremap in jobs:
                    pending.append(pool.submit(_save, target, scoremap))
                    if len(pending) >= 4 * max(1, workers):
                        finish(pending.pop(0))
                while pending:
                    finish(pending.pop(0))
            except BaseException:
                for future in pending:  # not yet started: do not write more after an error
                    future.cancel()
                raise
    except DiskWriteError as exc:
        detail = f"({written} of {total} files written)"
        raise DiskWriteError(exc.path, exc.errno, "score map", detail=detail) from exc
    return written


def _save(target: Path, scoremap: np.ndarray) -> None:
    try:
        with atomic_path(target, suffix=".npy", what="score map") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(scoremap, dtype=np.float64), allow_pickle=False)
    except (FileExistsError, NotADirectoryError) as exc:
        raise DataError(
            f"{target}: cannot create its folder ({exc.filename} is a file, not a folder); "
            "remove that file or export to an empty folder"
        ) from None
