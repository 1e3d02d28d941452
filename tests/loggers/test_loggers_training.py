"""Loggers in a real (tiny) training run: TensorBoard and MLflow fed together, a broken plugin
logger switched off with one warning, and bad names refused before any run directory exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.engine.api import train
from wsolkit.engine.callbacks import Callbacks
from wsolkit.loggers.scalars import epoch_scalars, eval_scalars

runner = CliRunner()

BROKEN_LOGGER = '''
from wsolkit.loggers import RunLogger


class Broken(RunLogger):
    """A tracker that goes away at the first step."""

    def on_step(self, *args):
        raise RuntimeError("tracker unreachable")
'''


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loggers") / "data"
    prepare_synthetic(root, seed=3, train=16, val=8, test=8, image_size=32, classes=2)
    return root


class Messages(Callbacks):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_message(self, text: str) -> None:
        self.messages.append(text)


def expected_metrics(run: Path) -> dict[str, list[tuple[int, float]]]:
    """What metrics.jsonl says each tracker should hold: tag → [(step, value)]."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    out: dict[str, list[tuple[int, float]]] = {}
    for record in epochs:
        for tag, value in epoch_scalars(record).items():
            out.setdefault(tag, []).append((record["epoch"], value))
    for record in (r for r in records if r["kind"] == "test"):
        scores = {k: v for k, v in record.items() if k not in ("kind", "checkpoint")}
        for tag, value in eval_scalars(f"test ({record['checkpoint']})", scores).items():
            out[tag] = [(epochs[-1]["epoch"], value)]
    return out


def check_tensorboard(run: Path, expected: dict[str, list[tuple[int, float]]]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    per_epoch = {t for t in tags["scalars"] if not t.startswith("train_step/")}
    assert per_epoch == set(expected)
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert got == [(s, pytest.approx(v, rel=1e-6)) for s, v in points], tag
    steps = events.Scalars("train_step/loss/total")
    assert [e.step for e in steps] == list(range(1, len(steps) + 1)) and len(steps) == 4
    val_cams = [t for t in tags["images"] if t.startswith("cams/val/")]
    assert len(val_cams) == 4 and {e.step for e in events.Images(val_cams[0])} == {1, 2}


def check_mlflow(run: Path, expected: dict[str, list[tuple[int, float]]]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{run / 'mlflow.db'}")
    (tracked,) = client.search_runs([client.get_experiment_by_name("wsolkit").experiment_id])
    assert tracked.info.status == "FINISHED" and tracked.info.run_name == run.name
    params = tracked.data.params
    assert params["method.name"] == "cam" and params["model.backbone"] == "tiny"
    assert json.loads(params["runtime.loggers"]) == ["tensorboard", "mlflow", "broken"]
    assert set(tracked.data.metrics) == set(expected)
    for key, points in expected.items():
        history = client.get_metric_history(tracked.info.run_id, key)
        assert sorted((m.step, m.value) for m in history) == points, key
    run_id = tracked.info.run_id
    assert {"summary.json", "checkpoints"} <= {a.path for a in client.list_artifacts(run_id)}
    for name in ("summary.json", "checkpoints/best.pt"):
        copy = Path(client.download_artifacts(run_id, name, str(run.parent)))
        assert copy.read_bytes() == (run / name).read_bytes(), name


@pytest.mark.slow
def test_a_run_feeds_both_trackers_and_outlives_a_broken_logger(
    data: Path, tmp_path: Path, fake_plugin: Any
) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    fake_plugin(
        "broken-logger",
        {"wsolkit.loggers": {"broken": "broken_logger:Broken"}},
        modules={"broken_logger": BROKEN_LOGGER},
    )
    callbacks = Messages()
    loggers = ["tensorboard", "mlflow", "broken"]
    overrides = tiny_overrides(data, tmp_path, **{"optim.epochs": 2, "runtime.loggers": loggers})
    summary = train(overrides=overrides, callbacks=callbacks)
    assert summary is not None and summary.epochs == 2  # training went on
    warnings = [m for m in callbacks.messages if m.startswith("warning:")]
    assert warnings == [
        "warning: logger 'broken' failed (RuntimeError: tracker unreachable); it is switched "
        "off for this run, training goes on"
    ]
    run = tmp_path / "r"
    expected = expected_metrics(run)
    assert "test/best/localization/max_box_acc_v2" in expected and "val/mask/pxap" in expected
    check_tensorboard(run, expected)
    check_mlflow(run, expected)


def cli(data: Path, out: Path, *extra: str) -> Any:
    args = ["train", "--data", str(data), "--backbone", "tiny", "--weights", "none"]
    return runner.invoke(app, [*args, "--device", "cpu", "--out-dir", str(out), "-q", *extra])


def test_an_unknown_logger_is_one_line_before_any_run_directory(data: Path, tmp_path: Path) -> None:
    result = cli(data, tmp_path / "runs", "--logger", "tensorboard", "--logger", "mlfow")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "runtime.loggers: unknown logger 'mlfow'" in lines[0]
    assert "Did you mean 'mlflow'?" in lines[0] and "mlflow, tensorboard" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_missing_extra_is_one_line_before_any_run_directory(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wsolkit.loggers.base as base

    real = base.find_spec
    monkeypatch.setattr(base, "find_spec", lambda m: None if m == "tensorboard" else real(m))
    result = cli(data, tmp_path / "runs", "--logger", "tensorboard")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: runtime.loggers: 'tensorboard' needs the tensorboard package: "
        "pip install 'wsolkit[tensorboard]'"
    )
    assert not (tmp_path / "runs").exists()
