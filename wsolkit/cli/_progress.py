"""rich rendering of the engine's callbacks: per-epoch bars with live loss terms."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from wsolkit.cli._app import err_console
from wsolkit.engine.callbacks import Callbacks


def _fmt_terms(terms: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.3f}" for k, v in terms.items())


class TrainProgress(Callbacks):
    """Progress bars on stderr (or plain log lines with ``quiet``)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet or not err_console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self._work: dict[str, Any] = {}
        self._epoch = 0

    def __enter__(self) -> TrainProgress:
        if not self.quiet:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=err_console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _log(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            err_console.print(text, highlight=False)

    def on_train_start(self, info: dict[str, Any]) -> None:
        parts = [f"{k}: {v}" for k, v in info.items() if v is not None]
        self._log("[dim]" + " · ".join(parts) + "[/]")

    def on_epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        self._epoch = epoch
        if self._progress is not None:
            self._task = self._progress.add_task(f"epoch {epoch}/{epochs}", total=steps, status="")

    def on_step(
        self, step: int, terms: dict[str, float], accuracy: float, images_per_s: float
    ) -> None:
        if self._progress is not None and self._task is not None:
            status = f"{_fmt_terms(terms)} acc {accuracy:.1f} {images_per_s:.0f} img/s"
            self._progress.update(self._task, completed=step, status=status)

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        line = f"epoch {record['epoch']}: {_fmt_terms(record.get('train_loss', {}))}"
        line += f" acc {record.get('train_top1', 0):.1f}"
        val = record.get("val")
        if val:
            line += f" | val {val.get('score_name', 'score')} {val.get('score', 0):.2f}"
            line += f" top-1 {val.get('top1', 0):.1f}"
            if record.get("is_best"):
                line += " [green](best)[/]"
        line += f" | {record.get('images_per_s', 0):.0f} img/s, {record.get('time_s', 0):.0f} s"
        self._log(line)

    def on_eval_start(self, label: str, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(f"eval {label}", total=total, status="")

    def on_eval_step(self, images: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, images)

    def on_eval_end(self, label: str, metrics: dict[str, Any]) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None

    def on_progress(self, label: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        task = self._work.get(label)
        if task is None:
            task = self._work[label] = self._progress.add_task(label, total=total, status="")
        self._progress.update(task, completed=done, total=total)
        if done >= total:
            self._progress.remove_task(task)
            del self._work[label]

    def on_message(self, text: str) -> None:
        self._log(text)
