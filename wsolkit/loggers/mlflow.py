"""The ``mlflow`` logger (``pip install 'wsolkit[mlflow]'``): one MLflow run per training run.

Where: the tracking URI in ``MLFLOW_TRACKING_URI`` when it is set (a server, a shared
database), else a SQLite store inside the run directory, ``<run>/mlflow.db``, with artifacts
in ``<run>/mlartifacts`` (``mlflow ui --backend-store-uri sqlite:///<run>/mlflow.db``). The
experiment is ``MLFLOW_EXPERIMENT_NAME``, else ``wsolkit``; the MLflow run is named after the
run directory and tagged ``wsolkit.run_dir``. A resumed run starts a new MLflow run.

What: params = the resolved settings flattened (``method.name``, ``optim.lr``, ...); metrics =
the epoch records at step = the epoch and the test results at the last epoch, named as in
:mod:`wsolkit.loggers.scalars`; artifacts = ``summary.json``, ``settings.yaml``,
``metrics.jsonl`` and ``checkpoints/best.pt`` as they are when training ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wsolkit.engine.rundir import RunDir
from wsolkit.loggers.base import RunLogger
from wsolkit.loggers.scalars import epoch_scalars, eval_scalars

DATABASE = "mlflow.db"
ARTIFACTS = "mlartifacts"
DEFAULT_EXPERIMENT = "wsolkit"
_BATCH = 100  # params per log_batch call (MLflow's limit)
_PARAM_LENGTH = 6000  # MLflow's limit on a param value
_NOT_IN_KEYS = re.compile(r"[^\w\-. :/]")  # MLflow keys allow these characters only


def flatten_settings(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optim": {"lr": 0.01}}`` → ``{"optim.lr": "0.01"}``; values as JSON text (strings
    as they are), cut to MLflow's 6000 characters."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_settings(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[name] = text if len(text) <= _PARAM_LENGTH else text[: _PARAM_LENGTH - 1] + "…"
    return out


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence the INFO lines MLflow and alembic print while a store's tables are created."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class MLflowLogger(RunLogger):
    """An MLflow run: settings as params, epoch and test metrics, summary and best checkpoint."""

    requires = ("mlflow", "sqlalchemy", "alembic")
    install = "wsolkit[mlflow]"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or None
        self.experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        self.client: Any = None
        self.run_id: str | None = None
        self.run: RunDir | None = None
        self.epoch = 0

    @classmethod
    def needed(cls) -> tuple[str, ...]:
        """mlflow; SQLAlchemy and alembic too when the store is a SQLite file (the default)."""
        uri = os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:"
        return cls.requires if uri.startswith("sqlite:") else ("mlflow",)

    def on_train_start(self, info: dict[str, Any]) -> None:
        from mlflow.tracking import MlflowClient

        self.run = RunDir(Path(info["run"]))
        self.epoch = info.get("resumed at epoch") or 0
        artifacts = None
        uri = self.tracking_uri
        if uri is None:
            uri = "sqlite:///" + (self.run.path / DATABASE).resolve().as_posix()
            artifacts = (self.run.path / ARTIFACTS).resolve().as_uri()
        with _quiet("mlflow", "alembic"):
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(self.experiment)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else self.client.create_experiment(self.experiment, artifact_location=artifacts)
            )
        tags = {"wsolkit.run_dir": str(self.run.path.resolve())}
        if self.epoch:
            tags["wsolkit.resumed_at_epoch"] = str(self.epoch)
        run = self.client.create_run(experiment_id, run_name=self.run.path.name, tags=tags)
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        params = flatten_settings(self.settings.model_dump(mode="json"))
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + _BATCH])

    def _log(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_NOT_IN_KEYS.sub("_", k), v, now, step) for k, v in values.items()]
        for start in range(0, len(metrics), 1000):  # MLflow's limit per call
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def on_epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        self._log(epoch_scalars(record), record["epoch"])

    def on_eval_end(self, label: str, metrics: Any) -> None:
        if label != "val":  # val is logged from the epoch record
            self._log(eval_scalars(label, metrics), self.epoch)

    def close(self, failure: BaseException | None) -> None:
        if self.client is None or self.run_id is None or self.run is None:
            return
        for path in (self.run.summary_file, self.run.settings_file, self.run.metrics_file):
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        best = self.run.checkpoint("best")
        if best.is_file():
            self.client.log_artifact(self.run_id, str(best), artifact_path="checkpoints")
        self.client.set_terminated(self.run_id, _status(failure))
        self.run_id = None


def _status(failure: BaseException | None) -> str:
    if failure is None:
        return "FINISHED"
    from wsolkit.engine.trainer import Interrupted

    if isinstance(failure, (KeyboardInterrupt, Interrupted)):
        return "KILLED"  # Ctrl-C
    return "FAILED"
