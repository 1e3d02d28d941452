"""The tag names every logger uses, and the CAM overlay pictures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wsolkit.loggers.overlay import cam_overlays
from wsolkit.loggers.scalars import epoch_scalars, eval_prefix, eval_scalars

RECORD = {
    "kind": "epoch",
    "epoch": 3,
    "lr": [0.004, 0.02],
    "batch_size": 8,
    "train_loss": {"ce": 1.5, "total": 2.0},
    "train_top1": 25.0,
    "images_per_s": 100.0,
    "time_s": 2.5,
    "val": {
        "images": 24,
        "top1": 50.0,
        "localization": {
            "max_box_acc_v2": 52.5,
            "max_box_acc": {"30": 100.0, "50": 45.0, "70": 12.5},
            "multi_contour": True,
            "cam_curve_interval": 0.05,
            "iou_thresholds": [30, 50, 70],
            "gt_known_loc": {"value": 45.0, "threshold": 0.35},
        },
        "mask": {"pxap": 25.9, "piou": {"value": float("nan"), "threshold": 0.0}},
        "score_name": "MaxBoxAccV2",
        "score": 52.5,
    },
    "val_tau": {"source": "val", "box": {"50": 0.35}, "mask": 0.0},
    "is_best": True,
}


def test_an_epoch_record_becomes_named_numbers() -> None:
    assert epoch_scalars(RECORD) == {
        "train/loss/ce": 1.5,
        "train/loss/total": 2.0,
        "train/top1": 25.0,
        "train/images_per_s": 100.0,
        "train/time_s": 2.5,
        "train/batch_size": 8.0,
        "train/lr/0": 0.004,
        "train/lr/1": 0.02,
        "val/top1": 50.0,
        "val/localization/max_box_acc_v2": 52.5,
        "val/localization/max_box_acc/30": 100.0,
        "val/localization/max_box_acc/50": 45.0,
        "val/localization/max_box_acc/70": 12.5,
        "val/localization/gt_known_loc/value": 45.0,
        "val/localization/gt_known_loc/threshold": 0.35,
        "val/mask/pxap": 25.9,
        "val/mask/piou/threshold": 0.0,  # the NaN value is left out
        "val/score": 52.5,
    }
    without_val = {k: v for k, v in RECORD.items() if k not in ("val", "val_tau", "is_best")}
    assert not any(tag.startswith("val/") for tag in epoch_scalars(without_val))


def test_evaluation_labels_become_tag_prefixes() -> None:
    assert eval_prefix("test (best)") == "test/best"
    assert eval_prefix("val") == "val"
    assert eval_scalars("test (last)", {"top1": 1, "mask": {"pxap": 2.0}}) == {
        "test/last/top1": 1.0,
        "test/last/mask/pxap": 2.0,
    }


def test_overlays_are_the_jet_map_blended_over_the_image() -> None:
    images = np.full((2, 6, 8, 3), 200, np.uint8)
    maps = np.stack([np.zeros((6, 8)), np.ones((6, 8))]).astype(np.float32)
    heat_only = cam_overlays(images, maps, alpha=1.0)
    blue, red = heat_only[0, 0, 0], heat_only[1, 0, 0]  # RGB: jet(0) is blue, jet(1) red
    assert blue[2] > 100 and blue[0] == 0 and red[0] > 100 and red[2] == 0
    assert (cam_overlays(images, maps, alpha=0.0) == images).all()
    half = cam_overlays(images, maps, alpha=0.5).astype(int)
    assert np.abs(half - (images.astype(int) + heat_only) / 2).max() <= 1
    jet = cv2.applyColorMap(np.array([[128]], np.uint8), cv2.COLORMAP_JET)[0, 0, ::-1]
    small = np.full((1, 3, 4), 128 / 255, np.float32)  # resized to the image
    assert (cam_overlays(images[:1], small, alpha=1.0)[0] == jet).all()


@pytest.mark.parametrize(
    ("images", "maps", "message"),
    [
        (np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4)), "images must be uint8 N×H×W×3"),
        (np.zeros((2, 4, 4, 3), np.float32), np.zeros((2, 4, 4)), "images must be uint8"),
        (np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4)), "N = 2, got (3, 4, 4)"),
    ],
)
def test_overlay_shapes_are_checked(images: np.ndarray, maps: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cam_overlays(images, maps)
