"""Helpers of the CAM-store tests: smooth synthetic maps, plausible provenance, small stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from wsolkit.cams import CamBatch, CamStoreWriter

SHA = "a" * 64


def smooth_maps(n: int, size: int, seed: int = 0, grid: int = 7) -> np.ndarray:
    """``n`` random but smooth float32 maps (bicubic upsampling of a coarse grid), like CAMs."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        coarse = rng.normal(size=(grid, grid)).astype(np.float32)
        out[i] = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        out[i] = out[i] * rng.uniform(1, 20) + rng.uniform(-5, 5)
    return out


def image_ids(n: int) -> list[str]:
    """ImageNet-like ids (``val/ILSVRC2012_val_00000001.JPEG``)."""
    return [f"val/ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)]


def provenance(**extra: Any) -> dict[str, Any]:
    """A plausible export's provenance."""
    base: dict[str, Any] = {
        "checkpoint_sha256": SHA,
        "backbone": "vgg16",
        "method": "aligned-eil",
        "dataset": "imagenet",
        "split": "test",
        "settings": {"model": {"backbone": "vgg16"}, "optim": {"lr": 0.004}},
        "input_size": 224,
        "eval_size": 224,
    }
    base.update(extra)
    return base


def predictions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random top-5 classes and descending scores."""
    rng = np.random.default_rng(seed)
    classes = np.stack([rng.permutation(1000)[:5] for _ in range(n)])
    scores = -np.sort(-rng.random((n, 5)).astype(np.float32), axis=1)
    return classes, scores


def write_store(
    path: Path,
    cams: np.ndarray,
    *,
    batch: int = 32,
    ids: list[str] | None = None,
    labels: np.ndarray | None = None,
    top5: tuple[np.ndarray, np.ndarray] | None = None,
    **kwargs: Any,
) -> CamStoreWriter:
    """Write ``cams`` (N×H×W) in batches; returns the closed writer."""
    n = len(cams)
    ids = ids or image_ids(n)
    labels = labels if labels is not None else np.arange(n) % 1000
    kwargs.setdefault("provenance", provenance())
    predictions_on = kwargs.get("predictions", True)
    classes, scores = top5 or predictions(n)
    writer = CamStoreWriter.open_or_resume(
        path, ids=ids, labels=labels, map_shape=cams.shape[1:], **kwargs
    )
    with writer:
        for a in range(writer.start, n, batch):
            b = min(a + batch, n)
            writer.put(
                CamBatch(
                    cams[a:b],
                    classes[a:b] if predictions_on else None,
                    scores[a:b] if predictions_on else None,
                    image_ids=ids[a:b],
                )
            )
    return writer
