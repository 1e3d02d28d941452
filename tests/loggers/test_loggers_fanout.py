"""``LoggingCallbacks`` forwards every call, isolates failing loggers (one warning each), and
``check_loggers`` refuses unknown names and missing packages before anything is trained."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from wsolkit.engine.callbacks import Callbacks
from wsolkit.errors import SettingsError
from wsolkit.loggers import LoggingCallbacks, RunLogger, check_loggers
from wsolkit.loggers.mlflow import MLflowLogger
from wsolkit.loggers.tensorboard import TensorBoardLogger

RECORD = {"kind": "epoch", "epoch": 1, "lr": [0.1], "train_loss": {"total": 1.0}}


class Recorder(Callbacks):
    """Keeps every call as (hook, args)."""

    def __init__(self, log: list[tuple[str, str, tuple]], who: str, cam_samples: int = 0) -> None:
        self.log, self.who, self.cam_samples = log, who, cam_samples

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args: self.log.append((self.who, name, args))
        return super().__getattribute__(name)

    def close(self, failure: BaseException | None) -> None:
        self.log.append((self.who, "close", (failure,)))


class Messages(Callbacks):
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.steps = 0

    def on_message(self, text: str) -> None:
        self.messages.append(text)

    def on_step(self, *args: Any) -> None:
        self.steps += 1


class FailsIn(RunLogger):
    """Raises in one hook; counts the calls it received."""

    hook = "on_step"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.calls: list[str] = []
        self.closed: list[BaseException | None] = []

    def on_step(self, *args: Any) -> None:
        self.calls.append("on_step")
        if self.hook == "on_step":
            raise RuntimeError("tracker went away")

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        self.calls.append("on_epoch_end")

    def close(self, failure: BaseException | None) -> None:
        self.closed.append(failure)
        if self.hook == "close":
            raise OSError("disk full")


def test_every_call_reaches_inner_first_then_each_logger_in_order() -> None:
    log: list[tuple[str, str, tuple]] = []
    wrapped = LoggingCallbacks(
        Recorder(log, "inner"), [("a", Recorder(log, "a")), ("b", Recorder(log, "b"))]
    )
    calls = [
        ("on_train_start", ({"run": "r"},)),
        ("on_epoch_start", (1, 2, 3)),
        ("on_step", (1, {"total": 1.0}, 50.0, 10.0)),
        ("on_epoch_end", (RECORD,)),
        ("on_eval_start", ("val", 8)),
        ("on_eval_step", (8,)),
        ("on_eval_end", ("val", {"top1": 1.0})),
        ("on_progress", ("checking", 1, 2)),
        ("on_message", ("note: hi",)),
    ]
    for hook, args in calls:
        getattr(wrapped, hook)(*args)
    expected = [(who, hook, args) for hook, args in calls for who in ("inner", "a", "b")]
    assert log == expected
    wrapped.close(None)
    assert log[-2:] == [("a", "close", (None,)), ("b", "close", (None,))]


def test_a_logger_that_raises_warns_once_and_is_switched_off() -> None:
    inner = Messages()
    broken = FailsIn(settings=None)
    healthy = FailsIn(settings=None)
    healthy.hook = "none"
    wrapped = LoggingCallbacks(inner, [("broken", broken), ("healthy", healthy)])
    for step in range(3):
        wrapped.on_step(step, {"total": 1.0}, 0.0, 1.0)
    wrapped.on_epoch_end(RECORD)
    wrapped.close(None)
    assert inner.steps == 3  # training's own callbacks saw everything
    assert inner.messages == [
        "warning: logger 'broken' failed (RuntimeError: tracker went away); it is switched "
        "off for this run, training goes on"
    ]
    assert broken.calls == ["on_step"]  # never called again after failing
    assert len(broken.closed) == 1 and isinstance(broken.closed[0], RuntimeError)
    assert healthy.calls == ["on_step"] * 3 + ["on_epoch_end"] and healthy.closed == [None]
    assert wrapped.names == []


def test_a_logger_that_fails_to_build_or_to_close_warns_and_training_goes_on() -> None:
    inner = Messages()

    def unbuildable(settings: Any) -> Any:
        raise ValueError("no tracking server")

    class ClosesBadly(FailsIn):
        hook = "close"

    wrapped = LoggingCallbacks.start(
        inner, [("ghost", unbuildable), ("closer", ClosesBadly)], settings=None
    )
    assert wrapped.names == ["closer"]
    wrapped.on_step(1, {}, 0.0, 1.0)
    wrapped.close(None)
    assert [m.split(" failed ")[0] for m in inner.messages] == [
        "warning: logger 'ghost'",
        "warning: logger 'closer'",
    ]
    assert "(ValueError: no tracking server)" in inner.messages[0]
    assert "(OSError: disk full)" in inner.messages[1]


def test_cam_samples_asks_for_the_most_and_gives_each_what_it_asked() -> None:
    log: list[tuple[str, str, tuple]] = []
    inner = Recorder(log, "inner", cam_samples=1)
    wants_three, wants_none = Recorder(log, "three", 3), Recorder(log, "none", 0)
    wrapped = LoggingCallbacks(inner, [("three", wants_three), ("none", wants_none)])
    assert wrapped.cam_samples == 3
    images = np.zeros((3, 4, 4, 3), np.uint8)
    maps = np.zeros((3, 4, 4), np.float32)
    wrapped.on_cam_samples("val", images, maps, ["a", "b", "c"])
    received = {who: args for who, hook, args in log if hook == "on_cam_samples"}
    assert set(received) == {"inner", "three"}
    assert received["inner"][3] == ["a"] and received["inner"][1].shape == (1, 4, 4, 3)
    assert received["three"][3] == ["a", "b", "c"] and received["three"][2].shape == (3, 4, 4)
    assert LoggingCallbacks(Callbacks(), []).cam_samples == 0


def test_unknown_logger_names_the_setting_and_lists_the_known_ones() -> None:
    with pytest.raises(SettingsError) as info:
        check_loggers(["tensorbord"])
    message = str(info.value)
    assert message.startswith("runtime.loggers: unknown logger 'tensorbord'.")
    assert "Did you mean 'tensorboard'?" in message
    assert "Available: mlflow, tensorboard" in message


def test_a_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import wsolkit.loggers.base as base

    real = base.find_spec
    monkeypatch.setattr(base, "find_spec", lambda m: None if m == "tensorboard" else real(m))
    with pytest.raises(SettingsError) as info:
        check_loggers(["mlflow", "tensorboard"])
    assert str(info.value) == (
        "runtime.loggers: 'tensorboard' needs the tensorboard package: "
        "pip install 'wsolkit[tensorboard]'"
    )
    assert TensorBoardLogger.plugin_details() == {
        "requires": ["tensorboard"],
        "missing": ["tensorboard"],
    }


def test_mlflow_needs_sqlalchemy_only_for_its_sqlite_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wsolkit.loggers.base as base

    real = base.find_spec
    monkeypatch.setattr(base, "find_spec", lambda m: None if m == "sqlalchemy" else real(m))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(
        SettingsError,
        match=r"'mlflow' needs the sqlalchemy package: pip install 'wsolkit\[mlflow\]'",
    ):
        check_loggers(["mlflow"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert MLflowLogger.missing() == []
    assert [name for name, _ in check_loggers(["mlflow", "mlflow"])] == ["mlflow"]
