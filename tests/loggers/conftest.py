"""Loggers' tests never see the developer's MLflow settings (``MLFLOW_TRACKING_URI`` would send
their runs to a real server)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_mlflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``MLFLOW_*`` variable removed; a test sets what it needs."""
    for name in list(os.environ):
        if name.upper().startswith("MLFLOW_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its tables made (which takes seconds); tests copy it
    where a store is expected rather than creating one each."""
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path
