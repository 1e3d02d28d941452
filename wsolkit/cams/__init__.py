"""The CAM store: one HDF5 file of CAMs (or score maps) per split, made once, read anywhere.

- :class:`CamStoreWriter` — ``open_or_resume(path, ids=, labels=, provenance=,
  map_shape=, ...)``, then ``put(CamBatch(...))`` from the producer; a
  background thread compresses and writes; a killed run resumes at ``start``.
- :class:`CamStore` — ``open(path)``; ``ids``, ``labels``, ``top5``,
  ``provenance``, ``rows()``, ``scoremap(i)`` and ``scoremaps()`` for evaluators.
- :class:`CamStoreSource` — a store as the score-map source of
  ``wsolkit.metrics.evaluate_scoremaps`` (picklable, for worker processes).
- :mod:`wsolkit.cams.npy` — import and export wsolevaluation score-map folders.

The schema is documented in docs/cam-store.md (format ``wsolkit-cams/1``).
"""

from __future__ import annotations

from wsolkit.cams.errors import CamStoreError, DamagedStoreError
from wsolkit.cams.schema import FORMAT, Layout, Provenance
from wsolkit.cams.source import CamStoreSource
from wsolkit.cams.store import CamRow, CamStore, ScoreMapRow
from wsolkit.cams.writer import CamBatch, CamStoreWriter

__all__ = [
    "FORMAT",
    "CamBatch",
    "CamRow",
    "CamStore",
    "CamStoreError",
    "CamStoreSource",
    "CamStoreWriter",
    "DamagedStoreError",
    "Layout",
    "Provenance",
    "ScoreMapRow",
]
