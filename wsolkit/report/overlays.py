"""CAM overlays: the image, the score map as a heat map, GT boxes (green) and the predicted
box at a threshold (red) — the picture people look at first. OpenCV only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from wsolkit.io import atomic_path
from wsolkit.metrics.boxes import rescale_boxes

GT_COLOR = (0, 200, 0)  # BGR
PRED_COLOR = (0, 0, 230)


def predicted_box(scoremap: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The box of the largest contour at ``threshold`` (SPEC.md §2.5 binarization)."""
    from wsolkit.metrics.boxes import contour_boxes, scoremap_to_uint8

    u = scoremap_to_uint8(scoremap)
    binary = (u > int(threshold * u.max())).astype(np.uint8)
    box = contour_boxes(binary, multi_contour=False)[0]
    return int(box[0]), int(box[1]), int(box[2]), int(box[3])


def overlay(
    image_bgr: np.ndarray,
    scoremap: np.ndarray,
    gt_boxes: Sequence[Sequence[int]],
    threshold: float,
    alpha: float = 0.5,
) -> np.ndarray:
    """A size×size BGR picture (size = the score map's): heat map blended over the image."""
    size = scoremap.shape[0]
    base = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap((np.clip(scoremap, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    picture = cv2.addWeighted(base, 1 - alpha, heat, alpha, 0)
    thickness = max(1, size // 112)
    for x0, y0, x1, y1 in gt_boxes:
        cv2.rectangle(picture, (int(x0), int(y0)), (int(x1), int(y1)), GT_COLOR, thickness)
    x0, y0, x1, y1 = predicted_box(scoremap, threshold)
    cv2.rectangle(picture, (x0, y0), (x1, y1), PRED_COLOR, thickness)
    return picture


def write_overlays(
    store_path: Path,
    metadata: object,
    image_root: Path,
    out_dir: Path,
    count: int,
    threshold: float,
) -> list[Path]:
    """PNG overlays of the first ``count`` images of a CAM store; returns the files written."""
    from wsolkit.cams import CamStore

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with CamStore.open(store_path) as store:
        size = store.resolve_eval_size(None)
        for i, image_id in enumerate(store.ids[: min(count, len(store))]):
            image = cv2.imread(str(Path(image_root) / image_id), cv2.IMREAD_COLOR)
            if image is None:
                continue
            width, height = metadata.sizes[image_id]  # type: ignore[attr-defined]
            boxes = metadata.boxes[image_id]  # type: ignore[attr-defined]
            gt = rescale_boxes(boxes, (width, height), (size, size))
            picture = overlay(image, store.scoremap(i, size), gt.tolist(), threshold)
            path = out_dir / (image_id.replace("/", "__").rsplit(".", 1)[0] + ".png")
            with atomic_path(path, suffix=".png") as tmp:
                ok, encoded = cv2.imencode(".png", picture)
                tmp.write_bytes(encoded.tobytes())
            written.append(path)
    return written


def _label(text: str, width: int, height: int = 18) -> np.ndarray:
    """A white strip with black text, ``width`` pixels wide (column and row titles)."""
    strip = np.full((height, width, 3), 255, np.uint8)
    scale = 0.4
    text = text if len(text) * 7 <= width else text[: max(width // 7 - 1, 1)] + "…"
    cv2.putText(
        strip, text, (3, height - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )
    return strip


def gallery(
    stores: Sequence[Path],
    titles: Sequence[str],
    image_root: Path,
    metadata: object,
    count: int,
    thresholds: Sequence[float],
    cell: int = 160,
) -> np.ndarray:
    """One row per image (the first ``count`` of the split), one column per store.

    The first column is the image with its GT boxes; each further column is a store's
    CAM overlay with the GT boxes (green) and its predicted box (red) at that store's
    threshold. All stores must hold the same split.
    """
    from wsolkit.cams import CamStore

    opened = [CamStore.open(p) for p in stores]
    try:
        ids = list(opened[0].ids[:count])
        header = [_label("image", cell)] + [_label(t, cell) for t in titles]
        rows = [np.concatenate(header, axis=1)]
        for image_id in ids:
            image = cv2.imread(str(Path(image_root) / image_id), cv2.IMREAD_COLOR)
            if image is None:
                continue
            width, height = metadata.sizes[image_id]  # type: ignore[attr-defined]
            cells = []
            plain = cv2.resize(image, (cell, cell), interpolation=cv2.INTER_AREA)
            for x0, y0, x1, y1 in rescale_boxes(
                metadata.boxes[image_id], (width, height), (cell, cell)
            ):  # type: ignore[attr-defined]
                cv2.rectangle(plain, (int(x0), int(y0)), (int(x1), int(y1)), GT_COLOR, 1)
            cells.append(plain)
            for store, threshold in zip(opened, thresholds, strict=True):
                index = store.ids.index(image_id)
                size = store.resolve_eval_size(None)
                gt = rescale_boxes(metadata.boxes[image_id], (width, height), (size, size))  # type: ignore[attr-defined]
                picture = overlay(image, store.scoremap(index, size), gt.tolist(), threshold)
                cells.append(cv2.resize(picture, (cell, cell), interpolation=cv2.INTER_NEAREST))
            rows.append(np.concatenate(cells, axis=1))
        return np.concatenate(rows, axis=0)
    finally:
        for store in opened:
            store.close()


def write_png(path: Path, picture: np.ndarray) -> None:
    """Encode and write a BGR picture atomically."""
    ok, encoded = cv2.imencode(".png", picture)
    with atomic_path(path, suffix=".png") as tmp:
        tmp.write_bytes(encoded.tobytes())
