"""The ``tensorboard`` logger: event files in ``<run>/tensorboard`` (``pip install
'wsolkit[tensorboard]'``; watch with ``tensorboard --logdir runs``).

Epoch numbers are logged at step = the epoch under the names of :mod:`wsolkit.loggers.scalars`;
the running means of each epoch also at every optimizer step (``train_step/...``); the first
``cam_samples`` images of each evaluation as CAM overlays (``cams/<split>/<image id>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsolkit.loggers.base import RunLogger
from wsolkit.loggers.scalars import epoch_scalars, eval_prefix, eval_scalars

FOLDER = "tensorboard"


class TensorBoardLogger(RunLogger):
    """TensorBoard event files: losses, accuracy, val/test metrics, learning rates, CAMs."""

    requires = ("tensorboard",)
    install = "wsolkit[tensorboard]"
    cam_samples = 4

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.writer: Any = None
        self.epoch = 0
        self._step_base = 0  # optimizer steps before the current epoch
        self._steps = 0  # steps of the current epoch

    def on_train_start(self, info: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(info["run"]) / FOLDER))
        self.epoch = info.get("resumed at epoch") or 0

    def on_epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        # Steps count from the start of the run; a resumed run counts its earlier epochs as
        # having this epoch's number of steps.
        if self._steps == 0 or epoch != self.epoch + 1:
            self._step_base = (epoch - 1) * steps
        else:
            self._step_base += self._steps
        self.epoch, self._steps = epoch, steps

    def on_step(
        self, step: int, terms: dict[str, float], accuracy: float, images_per_s: float
    ) -> None:
        at = self._step_base + step
        for term, value in terms.items():
            self.writer.add_scalar(f"train_step/loss/{term}", value, at)
        self.writer.add_scalar("train_step/top1", accuracy, at)
        self.writer.add_scalar("train_step/images_per_s", images_per_s, at)

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        for tag, value in epoch_scalars(record).items():
            self.writer.add_scalar(tag, value, record["epoch"])
        self.writer.flush()  # a finished epoch is visible at once

    def on_eval_end(self, label: str, metrics: Any) -> None:
        if label == "val":  # logged from the epoch record, at the same step
            return
        for tag, value in eval_scalars(label, metrics).items():
            self.writer.add_scalar(tag, value, self.epoch)
        self.writer.flush()

    def on_cam_samples(self, label: str, images: Any, scoremaps: Any, image_ids: list[str]) -> None:
        from wsolkit.loggers.overlay import cam_overlays  # OpenCV: imported when first used

        pictures = cam_overlays(images, scoremaps)
        prefix = eval_prefix(label)
        for image_id, picture in zip(image_ids, pictures, strict=True):
            self.writer.add_image(
                f"cams/{prefix}/{image_id}", picture, self.epoch, dataformats="HWC"
            )

    def close(self, failure: BaseException | None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
