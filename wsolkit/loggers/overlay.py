"""CAM overlays for trackers: each score map as a jet heat map blended over its image."""

from __future__ import annotations

import cv2
import numpy as np


def cam_overlays(images: np.ndarray, scoremaps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``images`` uint8 N×H×W×3 (RGB), ``scoremaps`` N×h×w in [0, 1] → uint8 N×H×W×3 (RGB).

    ``out = (1 - alpha) · image + alpha · jet(scoremap)``, the score map resized to the image
    (bilinear) and clipped to [0, 1]; blue is 0, red is 1.
    """
    images = np.asarray(images)
    scoremaps = np.asarray(scoremaps, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 N×H×W×3, got {images.dtype} {images.shape}")
    if scoremaps.ndim != 3 or len(scoremaps) != len(images):
        raise ValueError(
            f"scoremaps must be N×H×W with N = {len(images)}, got {tuple(scoremaps.shape)}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = images.shape[1:3]
    out = np.empty_like(images)
    for i, (image, scoremap) in enumerate(zip(images, scoremaps, strict=True)):
        if scoremap.shape != (height, width):
            scoremap = cv2.resize(scoremap, (width, height), interpolation=cv2.INTER_LINEAR)
        level = np.round(np.clip(np.nan_to_num(scoremap), 0.0, 1.0) * 255).astype(np.uint8)
        heat = cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        out[i] = cv2.addWeighted(image, 1.0 - alpha, heat, alpha, 0.0)
    return out
