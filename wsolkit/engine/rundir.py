"""A run directory: everything one training run leaves behind.

::

    RUN/settings.yaml        fully resolved settings (what --resume reads back)
    RUN/metrics.jsonl        one JSON object per epoch (+ the final test records)
    RUN/checkpoints/last.pt  end of the latest completed epoch (resumable)
    RUN/checkpoints/best.pt  best validation localization so far
    RUN/summary.json         final results (written at the end)
    RUN/val_ids.txt          the val images data.val_per_class drew (when it is set)
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from wsolkit.engine.summary import RunSummary
from wsolkit.errors import DataError, UsageError
from wsolkit.io import atomic_write_text, write_guard

SETTINGS = "settings.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
VAL_IDS = "val_ids.txt"
CHECKPOINTS = "checkpoints"


class RunDir:
    """Paths and small writers of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def settings_file(self) -> Path:
        """``settings.yaml``."""
        return self.path / SETTINGS

    @property
    def metrics_file(self) -> Path:
        """``metrics.jsonl``."""
        return self.path / METRICS

    @property
    def summary_file(self) -> Path:
        """``summary.json``."""
        return self.path / SUMMARY

    def checkpoint(self, name: str) -> Path:
        """``checkpoints/<name>.pt``."""
        return self.path / CHECKPOINTS / f"{name}.pt"

    @staticmethod
    def check_available(out_dir: Path, name: str) -> None:
        """Refuse a name whose directory exists and is not empty (it is never reused)."""
        path = Path(out_dir) / name
        if path.exists() and any(path.iterdir()):
            raise UsageError(
                f"run directory {path} already exists; continue it with --resume {path}, "
                "or choose another --run-name"
            )

    @classmethod
    def create(cls, out_dir: Path, name: str) -> RunDir:
        """A new, empty run directory; an existing non-empty one is never reused."""
        cls.check_available(out_dir, name)
        path = Path(out_dir) / name
        (path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def existing(cls, path: Path) -> RunDir:
        """An existing run directory, for ``--resume``, ``export-cams`` and ``compare``."""
        run = cls(Path(path))
        if not run.settings_file.is_file():
            raise DataError(f"{path} is not a wsolkit run directory (no {SETTINGS})")
        return run

    def write_val_ids(self, ids: list[str]) -> None:
        """``val_ids.txt``: the val images ``data.val_per_class`` drew, one id per line."""
        atomic_write_text(self.path / VAL_IDS, "".join(f"{i}\n" for i in ids))

    def write_settings(self, text: str) -> None:
        """Record the resolved settings (atomically)."""
        atomic_write_text(self.settings_file, text)

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line and flush it to disk (a full disk is a one-line error; a torn
        last line is dropped when the file is read)."""
        line = json.dumps(record, sort_keys=False, default=_jsonable) + "\n"
        with (
            write_guard(self.metrics_file, "metrics file"),
            open(self.metrics_file, "a", encoding="utf-8") as fh,
        ):
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every record; a torn last line (killed while writing) is dropped."""
        if not self.metrics_file.exists():
            return []
        records = []
        for line in self.metrics_file.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, completed_epochs: int) -> None:
        """On resume: keep the epoch records up to the checkpoint, drop later ones."""
        kept = [
            r
            for r in self.read_metrics()
            if r.get("kind") == "epoch" and r.get("epoch", 0) <= completed_epochs
        ]
        atomic_write_text(
            self.metrics_file,
            "".join(json.dumps(r, default=_jsonable) + "\n" for r in kept),
        )

    def write_summary(self, summary: RunSummary) -> None:
        """``summary.json`` (atomically)."""
        atomic_write_text(self.summary_file, summary.to_json_text())

    def read_summary(self) -> RunSummary:
        """``summary.json``; a run that has not finished its test is a one-line error."""
        if not self.summary_file.is_file():
            raise DataError(
                f"{self.path}: no {SUMMARY} (the run has not finished its test evaluation)"
            )
        return RunSummary.read(self.summary_file)


def default_run_name(dataset: str, backbone: str, method: str) -> str:
    """``<dataset>-<backbone>-<method>-<YYYYmmdd-HHMMSS>``, filesystem-safe."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = f"{dataset}-{backbone}-{method}-{stamp}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
