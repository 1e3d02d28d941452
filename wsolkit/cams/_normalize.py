"""Raw CAM → score map, SPEC.md §2.2 (wsolevaluation's ``normalize_scoremap``).

The metrics package owns this function (``wsolkit.metrics.normalize_scoremap``);
the store uses that one when it is importable. The private copy below has the
same semantics and only stands in until the metrics package lands.
TODO(metrics): delete ``_spec_normalize_scoremap`` once ``wsolkit.metrics``
exports ``normalize_scoremap``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Normalizer = Callable[[np.ndarray, int], np.ndarray]


def _spec_normalize_scoremap(cam: np.ndarray, size: int) -> np.ndarray:
    """``cam``: h×w raw CAM → size×size float64 score map in [0, 1].

    Cast to float64, ``cv2.resize(INTER_CUBIC)`` to size×size; a NaN anywhere
    gives all zeros; a constant map gives all zeros; else ``m -= m.min();
    m /= m.max()`` (no clipping).
    """
    resized = cv2.resize(
        np.asarray(cam, dtype=np.float64), (size, size), interpolation=cv2.INTER_CUBIC
    )
    if np.isnan(resized).any():
        return np.zeros_like(resized)
    low, high = resized.min(), resized.max()
    if low == high:
        return np.zeros_like(resized)
    resized -= low
    resized /= resized.max()
    return resized


def scoremap_normalizer() -> Normalizer:
    """``wsolkit.metrics.normalize_scoremap`` when it exists, else the SPEC §2.2 copy here."""
    try:
        from wsolkit.metrics import normalize_scoremap  # type: ignore[attr-defined]
    except ImportError:
        return _spec_normalize_scoremap
    return normalize_scoremap
