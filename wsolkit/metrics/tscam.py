"""TS-CAM's own localization numbers (Gao et al., ICCV 2021), for comparison with its paper.

TS-CAM and the papers after it (SCM, SAT) report Top-1 / Top-5 / GT-known Loc at one fixed
CAM threshold (0.1 on CUB, 0.12 on ImageNet), with their own evaluation code
(``lib/cams_deit.py`` of vasgaowei/TS-CAM, and its CUB dataset's box scaling). It differs
from wsolevaluation's protocol, which wsolkit follows everywhere else:

- the raw map is resized to the evaluation size **bilinearly** (``cv2.resize`` default), in
  float32, then min-max normalized;
- the box: ``uint8(map · 255)``, ``THRESH_TOZERO`` at ``int(τ · max)``, the contour of
  largest ``contourArea`` of ``findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``, its
  ``boundingRect`` as ``(x, y, x + w, y + h)`` **unclipped**; ``(0, 0, 1, 1)`` without one;
- ground-truth boxes scaled as ``int(max(x / W · S, 0))`` and ``int(min(x1 / W · S, S − 1))``
  (divided first, **clipped** at S − 1);
- IoU with the inclusive +1 convention, the best over the image's boxes;
- GT-known Loc counts IoU **≥ 0.5** on the ground-truth class's map; Top-1 Loc counts a correct
  top-1 class with IoU **> 0.5**; Top-5 Loc the ground truth among the top five with IoU
  **> 0.5** (the matching class's map is the ground truth's: one map per image suffices).

:class:`TsCamLocalization` accumulates raw CAMs of the ground-truth class (a raw CAM store)
with their top-5 predictions. Every number here is TS-CAM's convention, not MaxBoxAccV2;
the two stand side by side in ``wsolkit eval --ts-cam-tau``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.boxes import inclusive_iou


def tscam_scoremap(cam: np.ndarray, size: int) -> np.ndarray:
    """A raw h×w CAM → S×S float32: bilinear ``cv2.resize``, then ``(m − min) / (max − min)``."""
    resized = cv2.resize(np.asarray(cam, dtype=np.float32), (size, size))
    low, high = resized.min(), resized.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (resized - low) / (high - low)


def tscam_box(scoremap: np.ndarray, tau: float) -> tuple[int, int, int, int]:
    """The box TS-CAM estimates from a normalized map at threshold ``tau``."""
    image = (scoremap * 255.0).astype(np.uint8)
    limit = tau * np.max(image)
    _, kept = cv2.threshold(image, int(limit), 255, cv2.THRESH_TOZERO)
    contours, _ = cv2.findContours(kept, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return (0, 0, 1, 1)
    largest = max(contours, key=cv2.contourArea)  # the first of maximal area
    x, y, w, h = cv2.boundingRect(largest)
    return (x, y, x + w, y + h)


def tscam_gt_boxes(
    boxes: Sequence[Sequence[float]], image_size: tuple[int, int], size: int
) -> np.ndarray:
    """Ground-truth boxes (original pixels, x0 y0 x1 y1) on the S×S grid, TS-CAM's way."""
    width, height = (float(v) for v in image_size)
    rows = []
    for x0, y0, x1, y1 in boxes:
        rows.append(
            (
                int(max(x0 / width * size, 0)),
                int(max(y0 / height * size, 0)),
                int(min(x1 / width * size, size - 1)),
                int(min(y1 / height * size, size - 1)),
            )
        )
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


@dataclass(frozen=True)
class TsCamScores:
    """TS-CAM's numbers over a split (percent)."""

    tau: float
    images: int
    top1: float
    top5: float
    top1_loc: float
    top5_loc: float
    gt_known_loc: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "convention": "ts-cam",
            "tau": self.tau,
            "images": self.images,
            "top1": self.top1,
            "top5": self.top5,
            "top1_loc": self.top1_loc,
            "top5_loc": self.top5_loc,
            "gt_known_loc": self.gt_known_loc,
        }


class TsCamLocalization:
    """Streaming TS-CAM Top-1 / Top-5 / GT-known Loc at one threshold ``tau``."""

    def __init__(self, metadata: SplitMetadata, tau: float, size: int = 224) -> None:
        if metadata.boxes is None:
            raise DataError(
                f"{metadata.folder or 'the split'} has no boxes: TS-CAM's numbers need them"
            )
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {tau}")
        self.metadata, self.tau, self.size = metadata, float(tau), int(size)
        self.counts = np.zeros(6, dtype=np.int64)  # images, top1, top5, top1 loc, top5 loc, gt

    def accumulate(self, cam: np.ndarray, image_id: str, top5: Sequence[int]) -> None:
        """One image: the raw CAM of its ground-truth class and its five best classes."""
        if image_id not in self.metadata.labels:
            raise DataError(f"image id '{image_id}' is not in {self.metadata.folder}")
        label = self.metadata.labels[image_id]
        gt = tscam_gt_boxes(self.metadata.boxes[image_id], self.metadata.sizes[image_id], self.size)
        box = tscam_box(tscam_scoremap(cam, self.size), self.tau)
        iou = float(inclusive_iou(np.asarray([box]), gt).max())  # TS-CAM's +1 IoU, best GT
        classes = [int(c) for c in top5]
        top1_right = classes[0] == label
        top5_right = label in classes[:5]
        self.counts += np.array(
            [1, top1_right, top5_right, top1_right and iou > 0.5, top5_right and iou > 0.5,
             iou >= 0.5],
            dtype=np.int64,
        )  # fmt: skip

    def compute(self) -> TsCamScores:
        images = int(self.counts[0])
        if images == 0:
            raise DataError("no map was accumulated: nothing to evaluate")
        top1, top5, top1_loc, top5_loc, gt_known = (100.0 * self.counts[1:] / images).tolist()
        return TsCamScores(self.tau, images, top1, top5, top1_loc, top5_loc, gt_known)
