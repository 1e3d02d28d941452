"""Read a CAM store: ids, labels, predictions, provenance and the maps, in blocks.

``CamStore.open(path)`` validates the file and its schema; only the first
``rows_done`` rows are valid and readable (``len(store)``), and an unfinished
store says so with ``complete`` False. ``scoremaps()`` is what evaluators
consume: one SPEC §2.2 score map per image, in the store's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import h5py
import numpy as np

from wsolkit.cams.errors import CamStoreError, DamagedStoreError
from wsolkit.cams.schema import (
    CAMS,
    FORMAT,
    FORMAT_PREFIX,
    IMAGE_IDS,
    LABELS,
    ROWS_DONE,
    ROWS_TOTAL,
    TOP5_CLASSES,
    TOP5_SCORES,
    TOPK_CAMS,
    Layout,
    Provenance,
)
from wsolkit.metrics.scoremaps import normalize_scoremap

if TYPE_CHECKING:
    from wsolkit.data.source import DataSource
    from wsolkit.settings import Settings

READ_BLOCK = 256


@dataclass(frozen=True)
class CamRow:
    """One image of a store: its stored map (raw CAM or full score map) and predictions."""

    index: int
    image_id: str
    label: int
    cam: np.ndarray  # H×W in the stored dtype
    top1: int | None  # None when the store keeps no predictions
    top5: np.ndarray | None  # 5 classes, -1 where the model had fewer


class ScoreMapRow(NamedTuple):
    """What an evaluator accumulates: ``(image_id, scoremap, label, top1)``."""

    image_id: str
    scoremap: np.ndarray  # S×S float64 in [0, 1]
    label: int
    top1: int | None


class CamStore:
    """An open CAM store (read-only). Use :meth:`open`; close it or use ``with``."""

    def __init__(self, path: Path, file: h5py.File) -> None:
        self.path, self._file = path, file
        attrs = file.attrs
        self.total = int(attrs[ROWS_TOTAL])
        self.rows_done = int(attrs[ROWS_DONE])
        self.layout = _layout_of(file)
        self.provenance = Provenance.from_attrs(attrs)
        self.format = str(attrs["format"])
        self._ids: list[str] | None = None

    @classmethod
    def open(cls, path: Path | str) -> CamStore:
        """Open and validate ``path``; a damaged or foreign file is a one-line error."""
        path = Path(path)
        if not path.is_file():
            raise CamStoreError(path, "CAM store not found")
        try:
            file = h5py.File(path, "r")
        except OSError as exc:
            raise _open_failure(path, exc) from None
        try:
            _validate(path, file)
            return cls(path, file)
        except BaseException:
            file.close()
            raise

    @staticmethod
    def read_layout(path: Path | str) -> Layout:
        """The layout of the store at ``path`` (its shape, dtype, chunking)."""
        with CamStore.open(path) as store:
            return store.layout

    # ----------------------------------------------------------------- facts
    def __len__(self) -> int:
        return self.rows_done

    @property
    def complete(self) -> bool:
        """True when every planned row is written."""
        return self.rows_done == self.total

    @property
    def resolution(self) -> str:
        """``raw`` (CAMs at feature-map resolution) or ``full`` (normalized score maps)."""
        return self.layout.resolution

    @property
    def map_shape(self) -> tuple[int, int]:
        """H×W of the stored maps."""
        return self.layout.map_shape

    @property
    def eval_size(self) -> int:
        """The evaluation size S the store was made for (0 when unknown)."""
        return self.provenance.eval_size

    @property
    def has_predictions(self) -> bool:
        """True when top-5 classes and scores are stored."""
        return self.layout.predictions

    @property
    def planned_ids(self) -> list[str]:
        """All ids the store was created for, in row order (done or not)."""
        if self._ids is None:
            raw = self._read(IMAGE_IDS, 0, self.total)
            self._ids = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw]
        return self._ids

    @property
    def ids(self) -> list[str]:
        """Ids of the readable rows (the first ``rows_done``)."""
        return self.planned_ids[: self.rows_done]

    @property
    def planned_labels(self) -> np.ndarray:
        """Labels of all planned rows (int64)."""
        return self._read(LABELS, 0, self.total).astype(np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Labels of the readable rows (int64)."""
        return self._read(LABELS, 0, self.rows_done).astype(np.int64)

    @property
    def top5(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(classes, scores)`` of the readable rows, rows×5; None without predictions."""
        if not self.has_predictions:
            return None
        n = self.rows_done
        return self._read(TOP5_CLASSES, 0, n).astype(np.int64), self._read(TOP5_SCORES, 0, n)

    @property
    def file_size(self) -> int:
        """Bytes of the file on disk."""
        return self.path.stat().st_size

    def require_complete(self) -> None:
        """Raise a one-line error when rows are missing (an unfinished export)."""
        if not self.complete:
            raise CamStoreError(
                self.path,
                f"the store is incomplete ({self.rows_done} of {self.total} rows); run the "
                "same export again to finish it",
            )

    # ----------------------------------------------------------------- maps
    def cams(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Stored maps of rows ``start:stop`` (N×H×W, stored dtype); only readable rows."""
        stop = self.rows_done if stop is None else stop
        self._check_rows(start, stop)
        return self._read(CAMS, start, stop)

    def topk_cams(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """CAMs of the top-k predicted classes, N×k×H×W (``top5[0][:, :k]`` says whose)."""
        if not self.layout.topk:
            raise CamStoreError(self.path, "the store keeps no top-k CAMs (exported with topk 0)")
        stop = self.rows_done if stop is None else stop
        self._check_rows(start, stop)
        return self._read(TOPK_CAMS, start, stop)

    def scoremap(self, index: int, eval_size: int | None = None) -> np.ndarray:
        """The S×S float64 score map of row ``index`` (SPEC §2.2 for raw CAMs, as is if full)."""
        return self._to_scoremap(self.cams(index, index + 1)[0], self.resolve_eval_size(eval_size))

    def rows(self, block: int = READ_BLOCK) -> Iterator[CamRow]:
        """Every readable row in order, read ``block`` rows at a time."""
        ids = self.ids
        for start in range(0, self.rows_done, block):
            stop = min(start + block, self.rows_done)
            cams = self._read(CAMS, start, stop)
            labels = self._read(LABELS, start, stop)
            top5 = self._read(TOP5_CLASSES, start, stop) if self.has_predictions else None
            for j in range(stop - start):
                classes = top5[j].astype(np.int64) if top5 is not None else None
                top1 = int(classes[0]) if classes is not None else None
                yield CamRow(start + j, ids[start + j], int(labels[j]), cams[j], top1, classes)

    def __iter__(self) -> Iterator[CamRow]:
        return self.rows()

    def scoremaps(
        self,
        eval_size: int | None = None,
        *,
        allow_incomplete: bool = False,
        block: int = READ_BLOCK,
    ) -> Iterator[ScoreMapRow]:
        """``(image_id, scoremap, label, top1)`` per image, ready for ``accumulate``.

        Raw CAMs are normalized with SPEC §2.2 at ``eval_size`` (default: the
        store's); full score maps are used as they are, cast to float64. An
        incomplete store is an error unless ``allow_incomplete``.
        """
        if not allow_incomplete:
            self.require_complete()
        size = self.resolve_eval_size(eval_size)
        for row in self.rows(block):
            yield ScoreMapRow(row.image_id, self._to_scoremap(row.cam, size), row.label, row.top1)

    def settings(self) -> Settings | None:
        """The resolved settings of the run whose model made the maps; None for a store
        imported from a score-map folder (or settings this wsolkit cannot read)."""
        from pydantic import ValidationError

        from wsolkit.settings import Settings

        if not self.provenance.settings:
            return None
        try:
            return Settings.model_validate_json(self.provenance.settings)
        except ValidationError:
            return None

    def data_source(self) -> DataSource:
        """The dataset the maps were exported from (its images and masks), as recorded."""
        from wsolkit.data.source import DataSource

        settings = self.settings()
        if settings is None:
            raise CamStoreError(
                self.path,
                "records no settings of a run (imported score maps?), so its images and masks "
                "cannot be found",
            )
        return DataSource.from_settings(settings.data)

    def resolve_eval_size(self, eval_size: int | None = None) -> int:
        """The size S score maps come out at: the stored one for full maps, else the given
        ``eval_size`` or the store's; an impossible or unknown size is a one-line error."""
        if self.resolution == "full":
            stored = self.map_shape[0]
            if eval_size not in (None, stored):
                raise CamStoreError(
                    self.path,
                    f"holds full {stored}x{stored} score maps; cannot evaluate them at "
                    f"{eval_size} (export raw CAMs to change the size)",
                )
            return stored
        size = eval_size or self.eval_size
        if not size:
            raise CamStoreError(self.path, "the store does not record its eval size; pass one")
        return int(size)

    # ----------------------------------------------------------------- helpers
    def _to_scoremap(self, cam: np.ndarray, size: int) -> np.ndarray:
        if self.resolution == "full":
            return cam.astype(np.float64)
        return normalize_scoremap(cam, size)

    def _check_rows(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.rows_done:
            raise IndexError(
                f"rows {start}:{stop} outside the {self.rows_done} readable rows of {self.path}"
            )

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        try:
            return self._file[name][start:stop]
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise DamagedStoreError(
                self.path,
                f"rows {start}..{stop - 1} of '{name}' cannot be read ({_reason(exc)}); "
                "the file is damaged",
            ) from None

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> CamStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self.rows_done}/{self.total} rows"
        return f"CamStore({str(self.path)!r}, {self.resolution} {self.map_shape}, {state})"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _open_failure(path: Path, exc: OSError) -> CamStoreError:
    text = str(exc)
    if "unable to lock file" in text:
        return CamStoreError(
            path, "is open for writing in another process (an export still running?); wait for it"
        )
    if exc.errno is not None or "errno = " in text:  # the system refused: not the file's fault
        return CamStoreError(path, f"cannot be opened ({_reason(exc)})")
    if "truncated file" in text:
        return DamagedStoreError(
            path, "the file is truncated (an interrupted copy or a full disk?)"
        )
    if "signature" in text:
        return DamagedStoreError(
            path,
            "not an HDF5 file (no HDF5 signature): it is damaged or not a CAM store",
            "check the path, or export it again",
        )
    return DamagedStoreError(
        path, f"cannot be opened as HDF5 ({_reason(exc)}); the file is damaged"
    )


def _validate(path: Path, file: h5py.File) -> None:
    """Check the format tag, the attributes and the datasets' shapes."""
    try:
        fmt = file.attrs.get("format")
    except (OSError, RuntimeError, KeyError) as exc:
        raise DamagedStoreError(path, f"damaged store attributes ({_reason(exc)})") from None
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt is None or not str(fmt).startswith(FORMAT_PREFIX):
        raise CamStoreError(path, "an HDF5 file but not a wsolkit CAM store (no 'format' tag)")
    if fmt != FORMAT:
        raise CamStoreError(path, f"store format '{fmt}' is not '{FORMAT}'; upgrade wsolkit")
    try:
        total, done = int(file.attrs[ROWS_TOTAL]), int(file.attrs[ROWS_DONE])
        layout = _layout_of(file)
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as exc:
        raise DamagedStoreError(path, f"damaged store attributes ({_reason(exc)})") from None
    if not 0 <= done <= total:
        raise DamagedStoreError(path, f"damaged store: rows_done {done} outside 0..{total}")
    need: dict[str, tuple[int, ...]] = {
        IMAGE_IDS: (total,),
        LABELS: (total,),
        CAMS: (total, *layout.map_shape),
    }
    if layout.predictions:
        need[TOP5_CLASSES] = need[TOP5_SCORES] = (total, 5)
    if layout.topk:
        need[TOPK_CAMS] = (total, layout.topk, *layout.map_shape)
    for name, shape in need.items():
        try:
            found: Any = file.get(name)
        except (OSError, RuntimeError, KeyError) as exc:
            found = f"unreadable ({_reason(exc)})"
        if not isinstance(found, h5py.Dataset) or found.shape != shape:
            got = found.shape if isinstance(found, h5py.Dataset) else "missing"
            got = found if isinstance(found, str) else got
            raise DamagedStoreError(
                path, f"damaged store: dataset '{name}' is {got}, expected {shape}"
            )


def _layout_of(file: h5py.File) -> Layout:
    a = file.attrs
    return Layout(
        str(a["resolution"]),  # type: ignore[arg-type]
        (int(a["map_height"]), int(a["map_width"])),
        str(a["map_dtype"]),
        int(a["topk"]),
        bool(a["has_predictions"]),
        int(a["chunk_rows"]),
    )
