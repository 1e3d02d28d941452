"""``LoggingCallbacks``: the engine's callbacks, then every run logger, each logger isolated.

A logger that raises (when it is built, in any callback, or when it is closed) is reported
once through the wrapped callbacks' ``on_message`` and switched off; training goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from wsolkit.engine.callbacks import Callbacks


def _failure_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class LoggingCallbacks(Callbacks):
    """Forwards every call to ``inner`` and then to each live logger.

    ``inner``'s own exceptions propagate as usual; a logger's switch that logger off.
    """

    def __init__(self, inner: Callbacks, loggers: Sequence[tuple[str, Any]]) -> None:
        self.inner = inner
        self.loggers: list[tuple[str, Any]] = list(loggers)

    @classmethod
    def start(
        cls, inner: Callbacks, classes: Sequence[tuple[str, Any]], settings: Any
    ) -> LoggingCallbacks:
        """Build each logger class with ``settings``; one that fails to build is left out
        (with a warning)."""
        wrapped = cls(inner, [])
        for name, factory in classes:
            try:
                wrapped.loggers.append((name, factory(settings=settings)))
            except Exception as exc:  # noqa: BLE001 - a logger never stops training
                wrapped._warn(name, exc)
        return wrapped

    @property
    def names(self) -> list[str]:
        """The loggers still switched on."""
        return [name for name, _ in self.loggers]

    def _warn(self, name: str, exc: BaseException) -> None:
        self.inner.on_message(
            f"warning: logger '{name}' failed ({_failure_text(exc)}); it is switched off for "
            "this run, training goes on"
        )

    def _switch_off(self, name: str, logger: Any, exc: BaseException) -> None:
        self.loggers = [(n, lg) for n, lg in self.loggers if lg is not logger]
        self._warn(name, exc)
        with contextlib.suppress(Exception):  # release what it holds; reported once already
            logger.close(exc)

    def _each(self, hook: str, *args: Any) -> None:
        for name, logger in list(self.loggers):
            try:
                getattr(logger, hook)(*args)
            except Exception as exc:  # noqa: BLE001 - a logger never stops training
                self._switch_off(name, logger, exc)

    def close(self, failure: BaseException | None = None) -> None:
        """Close every live logger (at the end of training, or when it failed)."""
        for name, logger in list(self.loggers):
            try:
                logger.close(failure)
            except Exception as exc:  # noqa: BLE001 - a logger never stops training
                self._warn(name, exc)
        self.loggers = []

    # -- the callbacks ---------------------------------------------------------
    @property  # type: ignore[override]
    def cam_samples(self) -> int:
        """As many as the wrapped callbacks or any live logger asks for."""
        wanted = [getattr(lg, "cam_samples", 0) for _, lg in self.loggers]
        return max([self.inner.cam_samples, *wanted])

    def on_train_start(self, info: dict[str, Any]) -> None:
        self.inner.on_train_start(info)
        self._each("on_train_start", info)

    def on_epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        self.inner.on_epoch_start(epoch, epochs, steps)
        self._each("on_epoch_start", epoch, epochs, steps)

    def on_step(
        self, step: int, terms: dict[str, float], accuracy: float, images_per_s: float
    ) -> None:
        self.inner.on_step(step, terms, accuracy, images_per_s)
        self._each("on_step", step, terms, accuracy, images_per_s)

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        self.inner.on_epoch_end(record)
        self._each("on_epoch_end", record)

    def on_eval_start(self, label: str, total: int) -> None:
        self.inner.on_eval_start(label, total)
        self._each("on_eval_start", label, total)

    def on_eval_step(self, images: int) -> None:
        self.inner.on_eval_step(images)
        self._each("on_eval_step", images)

    def on_eval_end(self, label: str, metrics: Any) -> None:
        self.inner.on_eval_end(label, metrics)
        self._each("on_eval_end", label, metrics)

    def on_cam_samples(self, label: str, images: Any, scoremaps: Any, image_ids: list[str]) -> None:
        """Each receiver gets the first ``cam_samples`` it asked for (none if it asked none)."""
        receivers = [("", self.inner)] + list(self.loggers)
        for name, receiver in receivers:
            count = getattr(receiver, "cam_samples", 0)
            if count <= 0:
                continue
            args = (label, images[:count], scoremaps[:count], list(image_ids[:count]))
            if receiver is self.inner:
                self.inner.on_cam_samples(*args)
                continue
            try:
                receiver.on_cam_samples(*args)
            except Exception as exc:  # noqa: BLE001 - a logger never stops training
                self._switch_off(name, receiver, exc)

    def on_progress(self, label: str, done: int, total: int) -> None:
        self.inner.on_progress(label, done, total)
        self._each("on_progress", label, done, total)

    def on_message(self, text: str) -> None:
        self.inner.on_message(text)
        self._each("on_message", text)
