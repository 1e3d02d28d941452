"""Where a CAM's mass goes: on the discriminative part, the rest of the object, the background.

The part-domination problem that aligned EIL addresses shows as a CAM whose
positive mass sits on the most discriminative part. For each image the raw CAM
is upsampled to the evaluation size exactly as :func:`normalize_scoremap` does
(float64, bicubic) but not normalized; its positive part ``m = max(cam, 0)`` is
split over the part mask P and the object mask O (P ⊆ O):

- ``part_share``   = Σ_P m / Σ m     (share of all positive mass on the part)
- ``object_share`` = Σ_O m / Σ m     (share on the object, part included)
- ``part_of_object`` = Σ_P m / Σ_O m (the part's share of the object's mass)

Each is averaged over the images where its denominator is positive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class PartMassResult:
    """Mean shares in percent, and how many images each mean is over."""

    part_share: float
    object_share: float
    part_of_object: float
    images: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready."""
        return dict(self.__dict__)


def upsample_cam(cam: np.ndarray, size: int) -> np.ndarray:
    """A raw CAM at ``size``×``size`` (float64, bicubic), not normalized."""
    return cv2.resize(np.asarray(cam, np.float64), (size, size), interpolation=cv2.INTER_CUBIC)


def part_mass(samples: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> PartMassResult:
    """Mean shares over ``(upsampled CAM, object mask, part mask)`` triples (masks boolean)."""
    part, obj, part_obj = [], [], []
    for cam, object_mask, part_mask in samples:
        positive = np.maximum(np.nan_to_num(cam), 0.0)
        total = positive.sum()
        on_part = positive[part_mask].sum()
        on_object = positive[object_mask | part_mask].sum()
        if total > 0:
            part.append(on_part / total)
            obj.append(on_object / total)
        if on_object > 0:
            part_obj.append(on_part / on_object)

    def mean(values: list[float]) -> float:
        return 100.0 * float(np.mean(values)) if values else float("nan")

    return PartMassResult(mean(part), mean(obj), mean(part_obj), len(part))
