"""How the engine reports progress: a callbacks object whose methods default to no-ops.

The CLI implements them with rich progress bars; a notebook or another tool can
implement them however it likes. Only rank 0 receives calls.
"""

from __future__ import annotations

from typing import Any


class Callbacks:
    """Override what you need; every method is a no-op here."""

    #: How many images of each evaluation :meth:`on_cam_samples` receives (0: none, and the
    #: evaluation keeps nothing for it).
    cam_samples: int = 0

    def on_train_start(self, info: dict[str, Any]) -> None:
        """Run directory, device, world size, dataset sizes, resumed epoch."""

    def on_epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        """``epoch`` is 1-indexed; ``steps`` batches will follow."""

    def on_step(
        self, step: int, terms: dict[str, float], accuracy: float, images_per_s: float
    ) -> None:
        """After each optimizer step: running means of the loss terms and train accuracy."""

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        """The record written to metrics.jsonl for this epoch."""

    def on_eval_start(self, label: str, total: int) -> None:
        """Evaluation of ``label`` (e.g. "val", "test (best)") over ``total`` images begins."""

    def on_eval_step(self, images: int) -> None:
        """``images`` more images were evaluated."""

    def on_eval_end(self, label: str, metrics: dict[str, Any]) -> None:
        """Evaluation of ``label`` finished with these metrics."""

    def on_cam_samples(self, label: str, images: Any, scoremaps: Any, image_ids: list[str]) -> None:
        """The first :attr:`cam_samples` images of an evaluation and their score maps:
        ``images`` uint8 N×H×W×3 (RGB at the evaluation size), ``scoremaps`` float32 N×H×W
        in [0, 1] (the maps the metrics read), as numpy arrays."""

    def on_progress(self, label: str, done: int, total: int) -> None:
        """Work outside epochs and evaluations (e.g. "checking train images"): ``done`` of
        ``total`` items."""

    def progress(self, done: int, total: int, label: str = "") -> None:
        """:meth:`on_progress` as a :class:`wsolkit.progress.Progress` (what library work takes)."""
        self.on_progress(label, done, total)

    def on_message(self, text: str) -> None:
        """A line worth showing the user (a note, a warning)."""
