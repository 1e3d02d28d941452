"""The mlflow logger against a real local MLflow store: params, metric histories, artifacts,
the run's status, and where the store is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")

from mlflow.tracking import MlflowClient  # noqa: E402

from wsolkit.loggers.mlflow import MLflowLogger, flatten_settings  # noqa: E402
from wsolkit.loggers.scalars import epoch_scalars  # noqa: E402
from wsolkit.settings import load_settings  # noqa: E402

RECORDS = [
    {"kind": "epoch", "epoch": 1, "lr": [0.02], "train_loss": {"total": 2.0}, "train_top1": 10.0},
    {
        "kind": "epoch",
        "epoch": 2,
        "lr": [0.01],
        "train_loss": {"total": 1.5},
        "train_top1": 20.0,
        "val": {"top1": 30.0, "localization": {"max_box_acc_v2": 41.5}},
    },
]


def fake_run(path: Path) -> Path:
    """A run directory's files as training leaves them."""
    (path / "checkpoints").mkdir(parents=True)
    (path / "checkpoints" / "best.pt").write_bytes(b"\x00weights\xff")
    (path / "summary.json").write_text('{"epochs": 2}')
    (path / "settings.yaml").write_text("method:\n  name: cam\n")
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


def feed(logger: MLflowLogger, run: Path) -> None:
    logger.on_train_start({"run": str(run), "resumed at epoch": None})
    for record in RECORDS:
        logger.on_epoch_start(record["epoch"], 2, 4)
        logger.on_epoch_end(record)
    scores = {"top1": 55.0, "localization": {"max_box_acc_v2": 33.0}}
    logger.on_eval_end("test (best)", {**scores, "box_sets": {"pseudo+v2": {"top1": 9.0}}})


def only_run(client: MlflowClient, experiment: str) -> object:
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


def test_the_local_store_holds_params_metrics_and_artifacts(
    tmp_path: Path, empty_mlflow_db: Path
) -> None:
    run_dir = fake_run(tmp_path / "cub-vgg16-cam")
    shutil.copyfile(empty_mlflow_db, run_dir / "mlflow.db")  # the default store, made faster
    settings = load_settings(None, {"method.name": "cam", "optim.lr": 0.02})
    logger = MLflowLogger(settings=settings)
    feed(logger, run_dir)
    logger.close(None)

    db = run_dir / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    run = only_run(client, "wsolkit")
    assert run.info.run_name == "cub-vgg16-cam" and run.info.status == "FINISHED"
    assert run.data.tags["wsolkit.run_dir"] == str(run_dir.resolve())
    params = run.data.params
    assert params["method.name"] == "cam" and params["optim.lr"] == "0.02"
    assert params == flatten_settings(settings.model_dump(mode="json"))
    assert params["runtime.loggers"] == "[]" and params["runtime.run_name"] == "null"

    expected: dict[str, list[tuple[int, float]]] = {}
    for record in RECORDS:
        for key, value in epoch_scalars(record).items():
            expected.setdefault(key, []).append((record["epoch"], value))
    expected["test/best/top1"] = [(2, 55.0)]
    expected["test/best/localization/max_box_acc_v2"] = [(2, 33.0)]
    expected["test/best/box_sets/pseudo_v2/top1"] = [(2, 9.0)]  # "+" is not allowed in keys
    assert set(run.data.metrics) == set(expected)
    for key, points in expected.items():
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted((m.step, m.value) for m in history) == points, key

    listed = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert listed == {"summary.json", "settings.yaml", "metrics.jsonl", "checkpoints"}
    out = Path(client.download_artifacts(run.info.run_id, "checkpoints/best.pt", str(tmp_path)))
    assert out.read_bytes() == b"\x00weights\xff"
    assert (run_dir / "mlartifacts").is_dir()  # the artifacts stay inside the run directory


def test_tracking_uri_and_experiment_from_the_environment_and_failed_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_db: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlartifacts
    shared = Path(shutil.copyfile(empty_mlflow_db, tmp_path / "shared.db"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{shared}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "cub-sweep")
    failures = {"crashed": RuntimeError("boom"), "stopped": KeyboardInterrupt()}
    for name, failure in failures.items():
        run_dir = tmp_path / name
        (run_dir / "checkpoints").mkdir(parents=True)  # failed in epoch 4: no best.pt, summary
        (run_dir / "settings.yaml").write_text("{}\n")
        logger = MLflowLogger(settings=load_settings(None, {}))
        logger.on_train_start({"run": str(run_dir), "resumed at epoch": 3})
        logger.on_epoch_start(4, 5, 10)
        logger.close(failure)
        assert not (run_dir / "mlflow.db").exists()

    client = MlflowClient(f"sqlite:///{shared}")
    experiment = client.get_experiment_by_name("cub-sweep").experiment_id
    runs = {run.info.run_name: run for run in client.search_runs([experiment])}
    assert {name: run.info.status for name, run in runs.items()} == {
        "crashed": "FAILED",
        "stopped": "KILLED",
    }
    for run in runs.values():
        assert run.data.tags["wsolkit.resumed_at_epoch"] == "3"
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"settings.yaml"}


def test_flatten_settings_keeps_values_as_json_text() -> None:
    nested = {"a": {"b": 1, "c": {"d": [1, 2]}, "e": {}}, "f": "text", "g": None, "h": True}
    long = flatten_settings({"paths": ["x" * 10] * 1000})["paths"]
    assert len(long) == 6000 and long.endswith("…")
    assert flatten_settings(nested) == {
        "a.b": "1",
        "a.c.d": "[1, 2]",
        "a.e": "{}",
        "f": "text",
        "g": "null",
        "h": "true",
    }
