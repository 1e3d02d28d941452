"""A CAM store as a score-map source of :func:`wsolkit.metrics.evaluate_scoremaps`.

The metrics package evaluates any object with ``describe()``, ``load(image_id)``
and ``predictions(image_ids)`` that pickles cheaply (it may ship it to worker
processes).
:class:`CamStoreSource` pickles as its path and size, and each process opens
the store on first use. Raw CAMs become SPEC §2.2 score maps; full score maps
are checked like a score-map folder's files (2-D S×S, no NaN, within [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.cams.errors import CamStoreError
from wsolkit.cams.store import CamStore
from wsolkit.metrics.scoremaps import check_scoremap


class CamStoreSource:
    """Score maps of one store by image id; ``size`` defaults to the store's eval size."""

    def __init__(
        self, path: Path | str, size: int | None = None, *, allow_incomplete: bool = False
    ) -> None:
        self.path = Path(path)
        self.allow_incomplete = allow_incomplete
        with CamStore.open(self.path) as store:  # fail early, in the calling process
            if not allow_incomplete:
                store.require_complete()
            self.size = store.resolve_eval_size(size)
            self.resolution = store.resolution
        self._store: CamStore | None = None
        self._rows: dict[str, int] | None = None
        self._top5: np.ndarray | None = None

    def describe(self) -> str:
        """The store's path, for messages."""
        return str(self.path)

    def load(self, image_id: str) -> np.ndarray:
        """The checked size×size float64 score map of ``image_id``."""
        store, rows = self._open()
        row = rows.get(image_id)
        if row is None:
            raise CamStoreError(
                self.path,
                f"holds no CAM for image '{image_id}' ({len(rows)} images of split "
                f"'{store.provenance.split}'); evaluate it with the metadata it was exported for",
            )
        scoremap = store.scoremap(row, self.size)
        if self.resolution == "full":
            return check_scoremap(scoremap, f"{self.path} row {row} ('{image_id}')", self.size)
        return scoremap

    def predictions(self, image_ids: Sequence[str]) -> np.ndarray | None:
        """The stored top-5 classes of these images (B×5, best first; -1 where the model had
        fewer classes), or None when the store keeps no predictions."""
        store, rows = self._open()
        if not store.has_predictions:
            return None
        if self._top5 is None:
            self._top5 = store.top5[0]  # type: ignore[index]
        return self._top5[[rows[i] for i in image_ids]]

    def image_ids(self) -> list[str]:
        """The ids the store can load, in its order."""
        return list(self._open()[1])

    def _open(self) -> tuple[CamStore, dict[str, int]]:
        if self._store is None or self._rows is None:
            self._store = CamStore.open(self.path)
            self._rows = {image_id: i for i, image_id in enumerate(self._store.ids)}
        return self._store, self._rows

    def close(self) -> None:
        """Close the store (it reopens on the next ``load``)."""
        if self._store is not None:
            self._store.close()
        self._store, self._rows, self._top5 = None, None, None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_store"] = state["_rows"] = state["_top5"] = None  # an open file does not pickle
        return state

    def __enter__(self) -> CamStoreSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
