"""``summary.json``: what a finished run measured, as a typed model.

Written with ``model_dump`` by the trainer and read back with
``model_validate`` by ``wsolkit compare`` and any tool; the JSON shape is the
one wsolkit has always written, so summaries of earlier runs read as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from wsolkit.errors import DataError
from wsolkit.metrics.scores import SplitScores, Taus

_ADDED_LATER = frozenset({"best_val_tau", "selected_by"})


class RunSummary(BaseModel):
    """A finished run: its settings, epochs, best validation and test results per checkpoint.

    ``test`` maps ``"best"`` / ``"last"`` to the checkpoint's scores on the test split
    (empty when the data has no test split), each also read at the thresholds its own
    validation found best (``at_tau``); ``best_val_tau`` holds the best epoch's;
    ``settings`` is the resolved settings as recorded (a mapping, so summaries of
    other wsolkit versions still read).
    """

    model_config = ConfigDict(extra="allow")

    run_dir: str | None = None
    settings: dict[str, Any]
    epochs: int
    best_epoch: int | None = None
    best_val_score: float | None = None
    best_val_tau: Taus | None = None
    selected_by: str | None = None
    test: dict[str, SplitScores] = {}
    train_time_s: float | None = None
    skipped_images: int = 0
    world_size: int = 1

    @model_serializer(mode="wrap")
    def _without_absent_additions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Keys added after the first release are left out when absent, so a summary read
        # and written again is the file it was.
        data = handler(self)
        return {k: v for k, v in data.items() if not (k in _ADDED_LATER and v is None)}

    def _setting(self, section: str, key: str, default: Any = None) -> Any:
        value = (self.settings.get(section) or {}).get(key)
        return default if value is None else value

    @property
    def dataset(self) -> str | None:
        """The dataset's registered name (None when unknown)."""
        return self._setting("data", "dataset")

    @property
    def test_split(self) -> str:
        """The split the test results are on."""
        return self._setting("data", "test_split", "test")

    @property
    def backbone(self) -> str:
        """The backbone's registered name."""
        return self._setting("model", "backbone", "?")

    @property
    def method(self) -> str:
        """The method's registered name."""
        return self._setting("method", "name", "?")

    @property
    def iou_thresholds(self) -> list[int]:
        """The IoU levels of the box metrics."""
        return list(self._setting("eval", "iou_thresholds", [30, 50, 70]))

    def checkpoint_epoch(self, name: str) -> int | None:
        """The epoch a tested checkpoint holds (best: the best epoch; last: the last)."""
        return self.best_epoch if name == "best" else self.epochs

    def to_json_text(self) -> str:
        """The ``summary.json`` text."""
        return json.dumps(self.model_dump(mode="json"), indent=2)

    @classmethod
    def read(cls, path: Path) -> RunSummary:
        """Read ``summary.json``; an unreadable or malformed file is a one-line error."""
        try:
            return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "the file"
            raise DataError(
                f"{path}: not a run summary ({where}: {error['msg']}); the run may not have "
                "finished, or the file was edited"
            ) from None
