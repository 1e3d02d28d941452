"""Write a CAM store: batches in planned order, on a background thread, resumable.

Typical use (what ``wsolkit export-cams`` does)::

    writer = CamStoreWriter.open_or_resume(
        "cams.h5", ids=meta.image_ids, labels=[meta.labels[i] for i in meta.image_ids],
        provenance={"checkpoint_sha256": sha, "backbone": "vgg16", ...},
        map_shape=(14, 14))
    with writer:
        for batch in loader_over(writer.remaining_ids):  # skip what is done
            writer.put(CamBatch(cams=..., top5_classes=..., top5_scores=...,
                                image_ids=batch_ids))

Every row is pre-allocated at creation, so a rerun after a kill continues at
``writer.start`` and can never duplicate a row. A full or read-only disk stops
the writer with a :class:`~wsolkit.io.DiskWriteError` that says how many rows
are kept; the rerun continues from there (see :mod:`wsolkit.cams.disk`). See
docs/cam-store.md.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wsolkit.cams._worker import ChunkSink, CommitClock, Rows
from wsolkit.cams.create import WHAT, create_store_file
from wsolkit.cams.disk import RESERVE_BYTES, close_quietly, resume_fix, store_write_error
from wsolkit.cams.errors import CamStoreError, DamagedStoreError
from wsolkit.cams.identity import FIX, check_same_store, export_fingerprint, stored_fingerprint
from wsolkit.cams.schema import COMPRESSION_LEVEL, ROWS_DONE, Layout, Provenance, Resolution
from wsolkit.cams.store import CamStore
from wsolkit.io import require_free_space, write_guard
from wsolkit.progress import Progress

_STOP = object()
_OPEN_WRITERS: weakref.WeakSet[CamStoreWriter] = weakref.WeakSet()


@dataclass
class CamBatch:
    """The next rows of a store, in planned order; numpy arrays or torch tensors (any device).

    ``cams``: B×H×W (raw CAMs of the ground-truth class, or full score maps);
    ``top5_classes`` / ``top5_scores``: B×p with p ≤ 5 (softmax probabilities),
    required when the store keeps predictions; ``topk_cams``: B×k×H×W, the CAMs
    of ``top5_classes[:, :k]``; ``image_ids``: when given, checked against the plan.
    """

    cams: Any
    top5_classes: Any = None
    top5_scores: Any = None
    topk_cams: Any = None
    image_ids: Sequence[str] | None = None

    def __len__(self) -> int:
        return int(self.cams.shape[0])


class CamStoreWriter:
    """Appends rows to a store from a background thread; use :meth:`open_or_resume`."""

    def __init__(
        self,
        path: Path,
        ids: list[str],
        layout: Layout,
        start: int,
        *,
        queue_size: int,
        commit_interval: float,
        workers: int,
        progress: Progress | None,
        restarted: str = "",
    ) -> None:
        self.path, self.ids, self.layout = path, ids, layout
        self.start, self.total = start, len(ids)
        self.restarted = restarted  # why a damaged store of this export was started over
        self._queued = start
        self._error: BaseException | None = None
        self._closed = False  # no more put()
        self._finished = False  # thread joined, file closed
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self._clock = CommitClock(commit_interval)
        self._file = _open_for_append(path)
        try:
            self._sink = ChunkSink(
                self._file,
                layout,
                start,
                self.total,
                level=COMPRESSION_LEVEL,
                workers=workers,
                progress=progress,
            )
        except BaseException:
            close_quietly(self._file)
            raise
        if progress is not None:
            progress(start, self.total)
        self._thread = threading.Thread(target=self._run, name=f"cam-store {path.name}")
        self._thread.daemon = True
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # ----------------------------------------------------------------- opening
    @classmethod
    def open_or_resume(
        cls,
        path: Path | str,
        *,
        ids: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        provenance: Mapping[str, Any] | Provenance,
        map_shape: tuple[int, int],
        resolution: Resolution = "raw",
        dtype: str | None = None,
        topk: int = 0,
        predictions: bool = True,
        overwrite: bool = False,
        replace_stale: bool = False,
        queue_size: int = 8,
        commit_interval: float = 2.0,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> CamStoreWriter:
        """Create ``path``, or continue the same store where a previous run stopped.

        ``dtype`` defaults to float16 for raw CAMs and float32 for full score
        maps. A store made by another checkpoint, split, settings, id list or
        layout is refused unless ``overwrite`` (which starts over). The
        returned writer's ``start`` is the first row still to compute
        (``total`` when the store is complete); ``remaining_ids`` are its ids.
        ``progress(rows_written, total)`` is called from the writer thread.
        A store of this export too damaged to resume is started over (``restarted``
        says why); a damaged file of another or an unknown export is refused.
        ``replace_stale`` is for caches wsolkit owns (``wsolkit eval RUN``'s store): a
        store of any other export there is replaced instead of refused.
        """
        path = Path(path)
        if any(w.path.resolve() == path.resolve() for w in list(_OPEN_WRITERS)):
            raise CamStoreError(path, "another writer of this process has it open; close it first")
        ids = [str(i) for i in ids]
        prov = _provenance(path, provenance)
        layout = _layout(path, resolution, map_shape, dtype, topk, predictions)
        labels_array = _labels(path, ids, labels)
        fingerprint = export_fingerprint(ids, labels_array, prov, layout)
        options: dict[str, Any] = {
            "queue_size": queue_size,
            "commit_interval": commit_interval,
            "workers": workers if workers is not None else min(4, os.cpu_count() or 1),
            "progress": progress,
        }
        if path.exists() and (
            overwrite or (replace_stale and stored_fingerprint(path) != fingerprint)
        ):
            _remove(path)
        restarted = ""
        if path.exists():
            try:
                with CamStore.open(path) as old:
                    check_same_store(old, ids, labels_array, prov, layout)
                    start, layout = old.rows_done, old.layout
                if start < len(ids):
                    require_free_space(path, RESERVE_BYTES, WHAT, fix=resume_fix(start))
                return cls(path, ids, layout, start, **options)
            except DamagedStoreError as exc:
                if stored_fingerprint(path) != fingerprint:
                    raise CamStoreError(path, f"{exc.problem}; {FIX}") from None
                restarted = exc.problem  # our own partial store: its rows are recomputed
                _remove(path)
        create_store_file(path, ids, labels_array, prov, layout, fingerprint)
        layout = CamStore.read_layout(path)
        return cls(path, ids, layout, 0, restarted=restarted, **options)

    @property
    def remaining_ids(self) -> list[str]:
        """Ids of the rows still to compute, in order (empty when complete)."""
        return self.ids[self.start :]

    @property
    def complete(self) -> bool:
        """True when nothing was left to compute at opening."""
        return self.start == self.total

    # ----------------------------------------------------------------- producing
    def put(self, batch: CamBatch) -> None:
        """Queue the next rows; blocks only while the bounded queue is full.

        Raises the writer thread's error, if it had one, and rejects a batch
        whose shape, size or ids do not fit the plan. The arrays are read later
        by the writer thread: do not modify them in place after ``put``.
        """
        self._raise_pending()
        if self._closed:
            raise CamStoreError(self.path, "the writer is closed; open it again to add rows")
        self._check(batch)
        self._queued += len(batch)
        while True:
            try:
                self._queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                self._raise_pending()

    def _check(self, batch: CamBatch) -> None:
        n, layout = len(batch), self.layout
        shape = tuple(batch.cams.shape)
        if shape[1:] != layout.map_shape or len(shape) != 3:
            raise CamStoreError(
                self.path, f"batch cams have shape {shape}, expected B×{layout.map_shape}"
            )
        if self._queued + n > self.total:
            raise CamStoreError(
                self.path,
                f"{self._queued + n - self.total} more row(s) than the {self.total} planned",
            )
        if layout.predictions != (batch.top5_classes is not None):
            raise CamStoreError(
                self.path,
                "this store keeps top-5 predictions: pass top5_classes and top5_scores"
                if layout.predictions
                else "this store keeps no predictions: leave top5_classes unset",
            )
        if batch.top5_classes is not None:
            _check_predictions(self.path, batch, n)
        if layout.topk:
            want = (n, layout.topk, *layout.map_shape)
            got = tuple(batch.topk_cams.shape) if batch.topk_cams is not None else None
            if got != want:
                raise CamStoreError(self.path, f"batch topk_cams have shape {got}, need {want}")
        if batch.image_ids is not None:
            planned = self.ids[self._queued : self._queued + n]
            if len(batch.image_ids) != n:
                raise CamStoreError(
                    self.path, f"the batch has {n} maps but {len(batch.image_ids)} image ids"
                )
            for offset, (got_id, want_id) in enumerate(zip(batch.image_ids, planned, strict=True)):
                if got_id != want_id:
                    raise CamStoreError(
                        self.path,
                        f"row {self._queued + offset} is planned for '{want_id}' but the batch "
                        f"holds '{got_id}'; feed the images in the order of writer.remaining_ids",
                    )

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._closed = True
            raise error

    # ----------------------------------------------------------------- thread
    def _run(self) -> None:
        sink = self._sink
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                rows: Rows = sink.convert(
                    item.cams, item.top5_classes, item.top5_scores, item.topk_cams
                )
                sink.add(rows)
                if self._clock.due():
                    sink.commit()
            sink.finish()
            sink.commit()
        except BaseException as exc:  # handed to the producer by put() / close()
            with contextlib.suppress(Exception):
                sink.commit()  # rows already written stay usable (not after a failed write)
            disk = store_write_error(self.path, exc, sink.rows_done, self.total)
            if disk is not None:
                disk.__cause__ = exc
            self._error = disk or exc
            with contextlib.suppress(queue.Empty):
                while True:  # unblock a producer waiting on a full queue
                    self._queue.get_nowait()
        finally:
            sink.close()

    # ----------------------------------------------------------------- closing
    def close(self) -> None:
        """Write and commit every queued row, close the file, raise a writer error if any."""
        if self._finished:
            return
        self._closed = True
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._finished = True
        close_quietly(self._file)  # after a failed write the sink froze it: nothing is written
        _OPEN_WRITERS.discard(self)
        self._raise_pending()

    @property
    def rows_done(self) -> int:
        """Rows committed so far (read after :meth:`close` for the final count)."""
        return self._sink.rows_done

    def __enter__(self) -> CamStoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is None:
            self.close()
        else:  # keep the producer's error; still commit what was received
            with contextlib.suppress(Exception):
                self.close()


def _open_for_append(path: Path) -> h5py.File:
    try:
        with write_guard(path, WHAT, fix="make it writable, or write to another file"):
            file = h5py.File(path, "r+", libver="earliest")
    except OSError as exc:
        reason = str(exc).split("(")[-1].rstrip(")") if "(" in str(exc) else str(exc)
        raise CamStoreError(
            path, f"cannot open for writing ({reason}); is another export writing it?"
        ) from None
    if ROWS_DONE not in file.attrs:
        file.close()
        raise CamStoreError(path, "not a CAM store (no rows_done attribute)")
    return file


def _remove(path: Path) -> None:
    """Delete a store that is to be replaced; a refusal of the disk is one line."""
    with write_guard(path, WHAT, fix="make its folder writable, or write to another file"):
        path.unlink()


def _provenance(path: Path, provenance: Mapping[str, Any] | Provenance) -> Provenance:
    try:
        return Provenance.from_mapping(provenance)
    except (KeyError, TypeError, ValueError) as exc:
        raise CamStoreError(path, f"bad provenance: {exc}") from None


def _layout(
    path: Path,
    resolution: str,
    map_shape: tuple[int, int],
    dtype: str | None,
    topk: int,
    predictions: bool,
) -> Layout:
    chosen = dtype or ("float16" if resolution == "raw" else "float32")
    try:
        return Layout(resolution, tuple(map_shape), chosen, topk, predictions)  # type: ignore[arg-type]
    except ValueError as exc:
        raise CamStoreError(path, str(exc)) from None


def _labels(path: Path, ids: list[str], labels: Sequence[int] | np.ndarray) -> np.ndarray:
    if not ids:
        raise CamStoreError(path, "no image ids to store; the split is empty")
    array = np.asarray(labels)
    if array.shape != (len(ids),) or not np.issubdtype(array.dtype, np.integer):
        raise CamStoreError(
            path,
            f"labels must be {len(ids)} integers (one per id), got {array.shape} {array.dtype}",
        )
    seen: set[str] = set()
    for row, image_id in enumerate(ids):
        if not image_id or image_id in seen:
            what = "an empty" if not image_id else f"a duplicate ('{image_id}')"
            raise CamStoreError(path, f"{what} image id at row {row}; ids must be unique")
        seen.add(image_id)
    return array.astype(np.int32)


def _check_predictions(path: Path, batch: CamBatch, n: int) -> None:
    classes = tuple(batch.top5_classes.shape)
    scores = tuple(batch.top5_scores.shape) if batch.top5_scores is not None else None
    if len(classes) != 2 or classes[0] != n or not 1 <= classes[1] <= 5 or scores != classes:
        raise CamStoreError(
            path,
            f"top5_classes {classes} and top5_scores {scores} must both be B×p, B={n}, p <= 5",
        )


@atexit.register
def _close_open_writers() -> None:
    """Commit what open writers received when the interpreter exits without closing them."""
    for writer in list(_OPEN_WRITERS):
        with contextlib.suppress(Exception):
            writer.close()
