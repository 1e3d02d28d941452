"""Score maps: normalizing a raw CAM, and reading a folder of saved maps (SPEC.md §2.2, §2.3, §5).

A folder holds one ``.npy`` per image in either of the two layouts in use:
``DIR/<image_id>.npy`` (what wsolevaluation writes and reads, e.g.
``123/456.JPEG.npy``) or ``DIR/<image_id without extension>.npy`` (what the
wsolevaluation README and bridging-gap's ``--save_cam`` describe, e.g.
``123/456.npy``). Maps are used as they are; float16/float32 are cast to float64.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from wsolkit.errors import DataError

SUFFIX = ".npy"


def normalize_scoremap(cam: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Raw CAM (h×w, any float) → score map (H×W float64 in [0, 1]), as the canonical code does.

    Cast to float64, ``cv2.resize`` to ``size`` (an int, or ``(height, width)``)
    with ``INTER_CUBIC``; a map holding a NaN becomes all zeros, a constant map
    becomes all zeros, else ``map -= map.min(); map /= map.max()`` (no clipping).
    """
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    resized = cv2.resize(
        np.asarray(cam, dtype=np.float64), (width, height), interpolation=cv2.INTER_CUBIC
    )
    if np.isnan(resized).any() or resized.min() == resized.max():
        return np.zeros_like(resized)
    resized -= resized.min()
    resized /= resized.max()
    return resized


class NaNScoremapError(DataError):
    """A score map holding NaN: counted over the whole folder, then reported."""

    def __init__(self, source: str, count: int) -> None:
        super().__init__(f"{source}: score map holds {count} NaN value(s)")
        self.source = source
        self.count = count


def check_scoremap(array: np.ndarray, source: str, size: int) -> np.ndarray:
    """A loaded map as float64, or a one-line :class:`DataError` naming ``source``.

    Rejected as the canonical ``check_scoremap_validity`` does: not 2-D, holding
    a NaN (:class:`NaNScoremapError`), values outside [0, 1]; also a size other
    than ``size``×``size`` and a non-float dtype. float16/float32 become float64.
    """
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        kind = getattr(array, "dtype", type(array).__name__)
        raise DataError(f"{source}: score map has dtype {kind}; expected float values in [0, 1]")
    if array.ndim != 2:
        raise DataError(f"{source}: score map must be 2-D (H×W), got shape {tuple(array.shape)}")
    if array.shape != (size, size):
        raise DataError(
            f"{source}: score map is {array.shape[0]}x{array.shape[1]}, expected {size}x{size} "
            "(use --eval-size to evaluate at another resolution)"
        )
    array = array.astype(np.float64, copy=False)
    nans = int(np.isnan(array).sum())
    if nans:
        raise NaNScoremapError(source, nans)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{source}: score map values must lie in [0, 1], found min {low!r} and max {high!r} "
            "(normalize it: map -= min; map /= max)"
        )
    return array


def load_scoremap(path: Path, size: int) -> np.ndarray:
    """Read and check one ``.npy`` score map (see :func:`check_scoremap`)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable .npy score map ({reason})") from None
    return check_scoremap(array, str(path), size)


def _stem(image_id: str) -> str:
    """The image id without the extension of its last component (``a/b.JPEG`` → ``a/b``)."""
    path = PurePosixPath(image_id)
    return str(path.with_suffix("")) if path.suffix else image_id


@dataclass
class ScoremapFolder:
    """The score map file of every image id, found in either layout.

    ``extra`` counts ``.npy`` files under the folder that belong to no image id
    (ignored, reported as a note).
    """

    root: Path
    paths: dict[str, Path]
    extra: int = 0
    extra_examples: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path | str, image_ids: list[str]) -> ScoremapFolder:
        """Match every image id to one file; missing or doubly-present maps are errors."""
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: score map folder not found")
        present = _npy_files(root)
        paths: dict[str, Path] = {}
        missing: list[str] = []
        used: set[str] = set()
        for image_id in image_ids:
            candidates = dict.fromkeys([image_id + SUFFIX, _stem(image_id) + SUFFIX])
            found = [c for c in candidates if c in present]
            if len(found) > 1:
                raise DataError(
                    f"{root}: image id '{image_id}' has a score map in both layouts "
                    f"({found[0]} and {found[1]}); keep one"
                )
            if not found:
                missing.append(image_id)
                continue
            paths[image_id] = root / found[0]
            used.add(found[0])
        if missing:
            examples = ", ".join(f"'{m}'" for m in missing[:5])
            raise DataError(
                f"{root}: {len(missing)} of {len(image_ids)} image ids have no score map "
                f"(<id>.npy or <id without extension>.npy), e.g. {examples}"
            )
        extra = sorted(present - used)
        return cls(root, paths, len(extra), extra[:3])


def _npy_files(root: Path) -> set[str]:
    """Every ``.npy`` under ``root`` as a POSIX path relative to it."""
    found: set[str] = set()
    for folder, _, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        for name in files:
            if name.endswith(SUFFIX):
                found.add((relative / name).as_posix())
    return found
