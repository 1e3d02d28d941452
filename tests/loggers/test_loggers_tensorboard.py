"""The tensorboard logger: the event files read back hold exactly the numbers and pictures fed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

from wsolkit.loggers.overlay import cam_overlays  # noqa: E402
from wsolkit.loggers.scalars import epoch_scalars  # noqa: E402
from wsolkit.loggers.tensorboard import TensorBoardLogger  # noqa: E402


def record(epoch: int, validated: bool) -> dict:
    out = {
        "kind": "epoch",
        "epoch": epoch,
        "lr": [0.01 / epoch, 0.1 / epoch],
        "batch_size": 8,
        "train_loss": {"ce": 2.0 / epoch, "total": 3.0 / epoch},
        "train_top1": 10.0 * epoch,
        "images_per_s": 50.0 + epoch,
        "time_s": 1.5,
    }
    if validated:
        out["val"] = {"top1": 40.0 + epoch, "localization": {"max_box_acc_v2": 30.0 + epoch}}
        out["is_best"] = True
    return out


def read(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def test_event_files_hold_the_records_steps_tests_and_cams(tmp_path: Path) -> None:
    logger = TensorBoardLogger(settings=None)
    logger.on_train_start({"run": str(tmp_path), "resumed at epoch": None})
    records = [record(1, validated=False), record(2, validated=True)]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    maps = rng.random((2, 12, 16), dtype=np.float32)
    for rec in records:
        logger.on_epoch_start(rec["epoch"], 2, 3)
        for step in (1, 2, 3):
            logger.on_step(step, {"total": step * 1.0}, 10.0 * step, 5.0)
        if "val" in rec:
            logger.on_eval_end("val", rec["val"])  # logged from the record instead
            logger.on_cam_samples("val", images, maps, ["cls/a.jpg", "cls/b.jpg"])
        logger.on_epoch_end(rec)
    logger.on_eval_end("test (best)", {"top1": 77.0, "mask": {"pxap": 12.5}})
    logger.close(None)

    events = read(tmp_path)
    expected: dict[str, list[tuple[int, float]]] = {}
    for rec in records:
        for tag, value in epoch_scalars(rec).items():
            expected.setdefault(tag, []).append((rec["epoch"], value))
    expected["test/best/top1"] = [(2, 77.0)]
    expected["test/best/mask/pxap"] = [(2, 12.5)]
    expected["train_step/loss/total"] = [(s, float((s - 1) % 3 + 1)) for s in range(1, 7)]
    expected["train_step/top1"] = [(s, 10.0 * ((s - 1) % 3 + 1)) for s in range(1, 7)]
    expected["train_step/images_per_s"] = [(s, 5.0) for s in range(1, 7)]
    assert set(events.Tags()["scalars"]) == set(expected)
    assert "val/localization/max_box_acc_v2" in expected and "train/lr/1" in expected
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert got == [(s, pytest.approx(v, rel=1e-6)) for s, v in points], tag

    assert set(events.Tags()["images"]) == {"cams/val/cls/a.jpg", "cams/val/cls/b.jpg"}
    pictures = cam_overlays(images, maps)
    for i, name in enumerate(("a", "b")):
        (event,) = events.Images(f"cams/val/cls/{name}.jpg")
        assert event.step == 2 and (event.width, event.height) == (16, 12)
        png = np.frombuffer(event.encoded_image_string, np.uint8)
        decoded = cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert (decoded == pictures[i]).all()


def test_a_resumed_run_counts_steps_from_the_start_of_the_run(tmp_path: Path) -> None:
    logger = TensorBoardLogger(settings=None)
    logger.on_train_start({"run": str(tmp_path), "resumed at epoch": 4})
    logger.on_epoch_start(5, 6, 10)
    logger.on_step(1, {"total": 1.0}, 0.0, 1.0)
    logger.on_epoch_start(6, 6, 10)
    logger.on_step(2, {"total": 1.0}, 0.0, 1.0)
    logger.on_eval_end("test (last)", {"top1": 1.0})
    logger.close(None)
    events = read(tmp_path)
    assert [e.step for e in events.Scalars("train_step/loss/total")] == [41, 52]
    assert [e.step for e in events.Scalars("test/last/top1")] == [6]
