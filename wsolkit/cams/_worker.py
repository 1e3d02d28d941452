"""The writer thread of a CAM store: stages rows into chunks, compresses, writes, commits.

Everything that touches the HDF5 file after the writer is opened happens in
this thread. Rows go into a chunk-sized staging buffer; a full chunk is
compressed (in a small thread pool: zlib releases the GIL) and written with
``write_direct_chunk``. A *commit* makes rows durable in a fixed order:
flush the data, ``fsync``, then raise the ``rows_done`` attribute and flush
again. A reader trusts only ``rows_done``, so a process killed at any point
leaves rows that are either committed and valid or not counted.

Before each write the sink checks that the disk has room for it and for the
next commit (:func:`wsolkit.cams.disk.check_room`); a failed HDF5 call marks
the sink ``broken`` and freezes the file (:func:`wsolkit.cams.disk.freeze`), so
that a full disk leaves the file as a killed process would.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from wsolkit.cams.disk import check_room, freeze
from wsolkit.cams.errors import CamStoreError, DamagedStoreError
from wsolkit.cams.schema import (
    CAMS,
    COMPLETE,
    PREDICTION_SLOTS,
    ROWS_DONE,
    TOP5_CLASSES,
    TOP5_SCORES,
    TOPK_CAMS,
    Layout,
    encode_chunk,
)
from wsolkit.progress import Progress

FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass
class Rows:
    """A batch converted to numpy in the store's dtypes (made in the writer thread)."""

    cams: np.ndarray  # B×H×W
    top5_classes: np.ndarray | None  # B×5 int32
    top5_scores: np.ndarray | None  # B×5 float32
    topk_cams: np.ndarray | None  # B×k×H×W


@dataclass
class Chunk:
    """Rows ``start:end`` of one chunk, zero padded to the chunk's rows."""

    start: int
    end: int
    cams: np.ndarray  # R×H×W
    topk: np.ndarray | None  # R×k×H×W
    classes: np.ndarray  # (end - start)×5 int32
    scores: np.ndarray  # (end - start)×5 float32


def to_numpy(value: Any) -> np.ndarray:
    """An array from a numpy array, a list or a torch tensor on any device (no torch import)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if "bfloat16" in str(value.dtype):
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


class ChunkSink:
    """Owns the open file in the writer thread; rows arrive in planned order from ``start``."""

    def __init__(
        self,
        file: h5py.File,
        layout: Layout,
        start: int,
        total: int,
        *,
        level: int,
        workers: int,
        progress: Progress | None,
    ) -> None:
        self.file, self.layout, self.total = file, layout, total
        self.level, self.progress = level, progress
        self.rows_done = start  # committed
        self.written = start  # rows whose chunk is written (committed or not)
        self.broken = False  # an HDF5 write failed: the file is frozen, commit no more
        # Held open for the writer's life: a dataset closed mid-run may flush, and a
        # failure there would surface only as an ignored exception.
        self.cams = file[CAMS]
        self.topk = file[TOPK_CAMS] if layout.topk else None
        self.classes = file[TOP5_CLASSES] if layout.predictions else None
        self.scores = file[TOP5_SCORES] if layout.predictions else None
        self.pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        r, (h, w), k = layout.chunk_rows, layout.map_shape, layout.topk
        self.chunk_start = start - start % r
        self.fill = start - self.chunk_start
        self.stage = np.zeros((r, h, w), layout.dtype)
        self.stage_topk = np.zeros((r, k, h, w), layout.dtype) if k else None
        self.stage_classes = np.full((r, PREDICTION_SLOTS), -1, np.int32)
        self.stage_scores = np.full((r, PREDICTION_SLOTS), np.nan, np.float32)
        if self.fill:  # resuming inside a chunk: its committed rows are rewritten with it
            self._prefill()

    def _prefill(self) -> None:
        rows = slice(self.chunk_start, self.chunk_start + self.fill)
        try:
            self.stage[: self.fill] = self.cams[rows]
            if self.stage_topk is not None and self.topk is not None:
                self.stage_topk[: self.fill] = self.topk[rows]
            if self.classes is not None and self.scores is not None:
                self.stage_classes[: self.fill] = self.classes[rows]
                self.stage_scores[: self.fill] = self.scores[rows]
        except (OSError, RuntimeError, ValueError) as exc:
            raise DamagedStoreError(
                self.file.filename,
                f"committed rows {rows.start}..{rows.stop - 1} cannot be read "
                f"({str(exc).splitlines()[0][:200]}); the file is damaged",
            ) from None

    @contextlib.contextmanager
    def _io(self) -> Iterator[None]:
        """Around every HDF5 write: on failure mark the sink broken and freeze the file."""
        try:
            yield
        except BaseException:
            self.broken = True
            freeze(self.file)
            raise

    def convert(self, cams: Any, classes: Any, scores: Any, topk: Any) -> Rows:
        """Numpy arrays in the store's dtypes; float16 overflow is an error, not ``inf``."""
        rows = Rows(self._maps(cams), None, None, self._maps(topk) if topk is not None else None)
        if classes is not None:
            c, s = to_numpy(classes), to_numpy(scores)
            p = c.shape[1]
            rows.top5_classes = np.full((len(c), PREDICTION_SLOTS), -1, np.int32)
            rows.top5_scores = np.full((len(c), PREDICTION_SLOTS), np.nan, np.float32)
            rows.top5_classes[:, :p] = c
            rows.top5_scores[:, :p] = s
        return rows

    def _maps(self, value: Any) -> np.ndarray:
        array = to_numpy(value)
        with np.errstate(over="ignore"):  # overflow is reported below, with its row
            out = array.astype(self.layout.dtype)
        if self.layout.dtype.itemsize == 2:
            overflow = np.isinf(out) & np.isfinite(array)
            if overflow.any():
                where = np.unravel_index(int(np.argmax(overflow)), overflow.shape)
                raise CamStoreError(
                    self.file.filename,
                    f"CAM value {float(array[where]):.6g} at row "
                    f"{self.chunk_start + self.fill + int(where[0])} "
                    f"overflows float16 (largest {FLOAT16_MAX:g}); export with dtype float32",
                )
        return out

    def add(self, rows: Rows) -> None:
        """Stage rows; write every chunk that becomes full."""
        done, n = 0, len(rows.cams)
        full: list[Chunk] = []
        while done < n:
            take = min(n - done, self.layout.chunk_rows - self.fill)
            dst, src = slice(self.fill, self.fill + take), slice(done, done + take)
            self.stage[dst] = rows.cams[src]
            if self.stage_topk is not None:
                self.stage_topk[dst] = rows.topk_cams[src]
            if rows.top5_classes is not None:
                self.stage_classes[dst] = rows.top5_classes[src]
                self.stage_scores[dst] = rows.top5_scores[src]
            self.fill += take
            done += take
            if self.fill == self.layout.chunk_rows:
                full.append(self._take_chunk())
        self._write(full)

    def _take_chunk(self) -> Chunk:
        start, fill = self.chunk_start, self.fill
        topk = self.stage_topk.copy() if self.stage_topk is not None else None
        chunk = Chunk(
            start,
            start + fill,
            self.stage.copy(),
            topk,
            self.stage_classes[:fill].copy(),
            self.stage_scores[:fill].copy(),
        )
        self.chunk_start, self.fill = start + self.layout.chunk_rows, 0
        self.stage[:] = 0
        if self.stage_topk is not None:
            self.stage_topk[:] = 0
        return chunk

    def _write(self, chunks: list[Chunk]) -> None:
        """Compress, check the room, then write predictions and maps chunk by chunk."""
        if not chunks:
            return
        blocks = [c.cams for c in chunks] + [c.topk for c in chunks if c.topk is not None]
        if self.pool is not None and len(blocks) > 1:
            encoded = list(self.pool.map(self._encode, blocks))
        else:
            encoded = [self._encode(b) for b in blocks]
        predictions = sum(c.classes.nbytes + c.scores.nbytes for c in chunks)
        check_room(self.file.filename, sum(map(len, encoded)) + predictions)
        with self._io():
            for i, chunk in enumerate(chunks):
                rows = slice(chunk.start, chunk.end)
                if self.classes is not None and self.scores is not None:
                    self.classes[rows] = chunk.classes
                    self.scores[rows] = chunk.scores
                self.cams.id.write_direct_chunk((chunk.start, 0, 0), encoded[i])
                if self.topk is not None:
                    where = (chunk.start, 0, 0, 0)
                    self.topk.id.write_direct_chunk(where, encoded[len(chunks) + i])
                self.written = chunk.end  # only now may a commit count these rows
        if self.progress is not None:
            self.progress(self.written, self.total)

    def _encode(self, block: np.ndarray) -> bytes:
        return encode_chunk(block, self.level)

    def finish(self) -> None:
        """Write the partial chunk (zero padded) so every received row is on disk."""
        if self.fill:
            self._write([self._take_chunk()])

    def commit(self) -> None:
        """Make every written row durable, then count it in ``rows_done``."""
        if self.written == self.rows_done or self.broken:
            return
        with self._io():
            self.file.flush()
            os.fsync(self.file.id.get_vfd_handle())
            # modify() writes in place; assigning would add and rename an attribute,
            # which can move the root object header (a partial flush then breaks it).
            self.file.attrs.modify(ROWS_DONE, self.written)
            if self.written == self.total:
                self.file.attrs.modify(COMPLETE, True)
            self.file.flush()
            os.fsync(self.file.id.get_vfd_handle())
        self.rows_done = self.written

    def close(self) -> None:
        """Stop the compression pool (the file is closed by the writer)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class CommitClock:
    """Says when ``interval`` seconds have passed since the last commit."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = time.monotonic()

    def due(self) -> bool:
        """True (and restart) when a commit is due."""
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False
