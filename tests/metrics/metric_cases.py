"""Deterministic score maps, metadata splits and masks for the metric tests.

Everything is generated from a seed (numpy's PCG64 and OpenCV drawing), so the
parity values in ``test_parity.py`` — computed once with the canonical
wsolevaluation / bridging-gap code on exactly these cases — can be checked
again here without the reference code.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from wsolkit.data.metadata import MaskAnnotation, SplitMetadata, write_split
from wsolkit.metrics.scoremaps import normalize_scoremap

PARITY_KINDS = (
    "cam14",
    "cam28",
    "rings",
    "plateaus",
    "lines",
    "zeros",
    "near_constant",
    "border",
)  # the kinds of the parity cases (pixel noise makes the canonical loop take hours)

KINDS = (
    "cam14",  # a raw 14×14 CAM of a few blobs, normalized like the canonical inference
    "cam28",
    "noise",  # uniform noise: many tiny contours
    "rings",  # concentric rings: holes inside holes
    "plateaus",  # a few equal values: ties everywhere
    "lines",  # one-pixel lines: zero-area contours
    "zeros",  # all zero: the (0, 0, 0, 0) box
    "near_constant",  # max(uint8) is 0 or 1
    "border",  # blobs cut by the image border
    "checker",  # a coarse checkerboard of two values
)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = x - x.min()
    top = x.max()
    return x / top if top > 0 else x


def generate_map(rng: np.random.Generator, kind: str, size: tuple[int, int]) -> np.ndarray:
    """One H×W float64 score map in [0, 1] of the given kind."""
    height, width = size
    yy, xx = np.mgrid[:height, :width]
    if kind in ("cam14", "cam28"):
        n = 14 if kind == "cam14" else 28
        gy, gx = np.mgrid[:n, :n]
        cam = 0.2 * rng.standard_normal((n, n))
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0, n, 2)
            sigma = rng.uniform(0.8, n / 5)
            cam += rng.uniform(0.5, 2) * np.exp(-((gy - cy) ** 2 + (gx - cx) ** 2) / (2 * sigma**2))
        return normalize_scoremap(cam, (height, width))
    if kind == "noise":
        return rng.random((height, width))
    if kind == "rings":
        cy, cx = rng.uniform(0.3, 0.7, 2) * (height, width)
        period = rng.uniform(2, max(3, min(height, width) / 4))
        radius = np.hypot(yy - cy, xx - cx)
        return _normalize(
            np.cos(radius / period * np.pi) * np.exp(-radius / (2 * max(height, width)))
        )
    if kind == "plateaus":
        small = rng.integers(0, 4, (max(2, height // 6), max(2, width // 6))) / 3.0
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    if kind == "lines":
        out = np.zeros((height, width))
        for _ in range(int(rng.integers(1, 5))):
            value = rng.uniform(0.2, 1)
            if rng.random() < 0.5:
                out[int(rng.integers(0, height)), int(rng.integers(0, width // 2)) :] = value
            else:
                out[:, int(rng.integers(0, width))] = value
            if rng.random() < 0.5:  # a diagonal one-pixel line
                n = min(height, width)
                out[np.arange(n), np.arange(n)] = value
        return _normalize(out)
    if kind == "zeros":
        return np.zeros((height, width))
    if kind == "near_constant":
        out = np.full((height, width), rng.choice([0.0, 0.5 / 255, 1.5 / 255]))
        out[int(rng.integers(0, height)), int(rng.integers(0, width))] = rng.choice(
            [1 / 255, 2 / 255]
        )
        return out
    if kind == "border":
        out = np.zeros((height, width))
        for _ in range(int(rng.integers(1, 4))):
            cy = rng.choice([0, height - 1, rng.integers(0, height)])
            cx = rng.choice([0, width - 1, rng.integers(0, width)])
            sigma = rng.uniform(1, max(2, min(height, width) / 4))
            out += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        return _normalize(out)
    if kind == "checker":
        cell = int(rng.integers(1, 6))
        board = ((yy // cell + xx // cell) % 2).astype(np.float64)
        return board * rng.uniform(0.3, 1) + (1 - board) * rng.uniform(0, 0.3)
    raise ValueError(kind)


def generate_boxes(rng: np.random.Generator, size: tuple[int, int], count: int) -> np.ndarray:
    """``count`` random inclusive boxes inside an H×W grid (G×4 int64)."""
    height, width = size
    boxes = []
    for _ in range(count):
        x0, x1 = np.sort(rng.integers(0, width, 2))
        y0, y1 = np.sort(rng.integers(0, height, 2))
        boxes.append((x0, y0, x1, y1))
    return np.asarray(boxes, dtype=np.int64)


def make_box_split(
    root: Path,
    *,
    images: int = 40,
    seed: int = 0,
    layout: str = "canonical",
    size: int = 224,
    kinds: tuple[str, ...] = KINDS,
) -> tuple[Path, Path, dict[str, int]]:
    """A box split (metadata folder) and a score-map folder for it; also top-1 predictions.

    ``layout``: ``canonical`` (``<id>.npy``) or ``stem`` (``<id without extension>.npy``);
    ``kinds``: the map kinds, in turn.
    Returns (metadata folder, score-map folder, predicted class per image id).
    """
    rng = np.random.default_rng(seed)
    ids, labels, sizes, boxes, predicted = [], {}, {}, {}, {}
    maps = root / "scoremaps"
    for i in range(images):
        image_id = f"{i % 5:03d}.class/img_{i:04d}.JPEG"
        width, height = (int(v) for v in rng.integers(60, 600, 2))
        ids.append(image_id)
        labels[image_id] = i % 5
        predicted[image_id] = i % 5 if rng.random() < 0.7 else (i + 1) % 5
        sizes[image_id] = (width, height)
        boxes[image_id] = []
        for _ in range(int(rng.integers(1, 4))):
            x0, x1 = np.sort(rng.integers(0, width, 2))
            y0, y1 = np.sort(rng.integers(0, height, 2))
            boxes[image_id].append((int(x0), int(y0), int(x1) + 1, int(y1) + 1))
        scoremap = generate_map(rng, kinds[i % len(kinds)], (size, size))
        name = image_id if layout == "canonical" else image_id.rsplit(".", 1)[0]
        path = maps / f"{name}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, scoremap)
    meta = SplitMetadata(ids, labels, sizes, boxes=boxes)
    write_split(root / "meta", meta)
    return root / "meta", maps, predicted


def make_mask_split(
    root: Path, *, images: int = 12, seed: int = 0, size: int = 224
) -> tuple[Path, Path, Path]:
    """A mask split with PNG instance and ignore masks of various sizes, and its score maps.

    Returns (metadata folder, mask root, score-map folder).
    """
    rng = np.random.default_rng(seed)
    ids, labels, sizes, masks = [], {}, {}, {}
    mask_root, maps = root / "masks", root / "scoremaps"
    for i in range(images):
        image_id = f"val/c{i % 3}/im{i:03d}.jpg"
        width, height = (int(v) for v in rng.integers(50, 400, 2))
        ids.append(image_id)
        labels[image_id] = i % 3
        sizes[image_id] = (width, height)
        paths = []
        for j in range(int(rng.integers(1, 3))):
            mask = np.zeros((height, width), np.uint8)
            center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(3, width // 2 + 4)), int(rng.integers(3, height // 2 + 4)))
            cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
            relative = f"val/c{i % 3}/im{i:03d}_m{j}.png"
            (mask_root / relative).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_root / relative), mask)
            paths.append(relative)
        ignore = np.zeros((height, width), np.uint8)
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        ignore[y0 : y0 + height // 3, x0 : x0 + width // 3] = 255
        ignore_relative = f"val/c{i % 3}/im{i:03d}_ignore.png"
        cv2.imwrite(str(mask_root / ignore_relative), ignore)
        masks[image_id] = MaskAnnotation(paths, ignore_relative)
        kind = ("cam14", "cam28", "noise", "zeros", "plateaus")[i % 5]
        path = maps / f"{image_id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, generate_map(rng, kind, (size, size)))
    write_split(root / "meta", SplitMetadata(ids, labels, sizes, masks=masks))
    return root / "meta", mask_root, maps
