"""Evaluate a run or a checkpoint in one step (``wsolkit eval RUN_DIR|CHECKPOINT``).

The split's CAMs are exported once into a cached store beside the checkpoint
(``eval-<split>-<checkpoint>.h5``, raw float32 CAMs: the numbers equal the
run's own evaluation in ``summary.json``), reused while the checkpoint's
SHA-256 and the export's settings stay the same, and evaluated with the
run's recorded protocol (flags may change it). When the data has a val split,
the test split is also read at the thresholds val finds best (``at_tau``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wsolkit.engine.export import ExportOptions, export_cams, resolve_checkpoint
from wsolkit.metrics.report import EvaluationReport
from wsolkit.metrics.scores import Taus
from wsolkit.progress import Progress, phase


@dataclass(frozen=True)
class CheckpointEvaluation:
    """What ``wsolkit eval RUN_DIR|CHECKPOINT`` evaluated, with what, and the report."""

    checkpoint: Path
    store: Path
    reused: bool  # the cached store was complete and current: no image was read
    report: EvaluationReport
    val: EvaluationReport | None = None  # the val split, whose best thresholds were applied


def cache_path(
    target: Path, checkpoint: Path, split: str, extractor: str = "cam", stage: str | None = None
) -> Path:
    """``eval-<split>-<checkpoint stem>.h5`` in the run directory, or beside a checkpoint.

    Maps of another extractor than ``cam`` add ``-<extractor>[-<stage>]`` to the name.
    """
    suffix = "" if extractor == "cam" else f"-{extractor}" + (f"-{stage}" if stage else "")
    name = f"eval-{split}-{checkpoint.stem}{suffix}.h5"
    return Path(target) / name if Path(target).is_dir() else checkpoint.with_name(name)


def evaluate_checkpoint(
    target: Path,
    *,
    split: str = "test",
    checkpoint: Literal["best", "last"] = "best",
    data: Path | None = None,
    protocol: Mapping[str, Any] | None = None,
    device: str | None = None,
    amp: str | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    eval_workers: int = 1,
    progress: Progress | None = None,
    val_taus: bool = True,
    extractor: str = "cam",
    stage: str | None = None,
    extractor_params: Mapping[str, Any] | None = None,
) -> CheckpointEvaluation:
    """Export (or reuse) the split's CAMs of a run's checkpoint, then evaluate them.

    ``protocol`` holds the :class:`~wsolkit.settings.EvalProtocol` fields to change from
    the run's recorded protocol (e.g. ``{"cam_curve_interval": 0.001}``); ``data`` is
    the prepared dataset for a checkpoint that records none (or to read another copy).
    With ``val_taus`` (and a val split that is not ``split``), the val split is
    evaluated too and ``split`` is also read at val's best thresholds. ``extractor``,
    ``stage`` and ``extractor_params`` choose the score maps (default: the method's CAMs).
    """
    from wsolkit.cams.evaluate import evaluate_store, recorded_protocol
    from wsolkit.cams.store import CamStore

    chosen = resolve_checkpoint(target, checkpoint)
    options = ExportOptions(
        split=split,
        out=cache_path(target, chosen, split, extractor, stage),
        checkpoint=checkpoint,
        data=data,
        resolution="raw",
        dtype="float32",
        batch_size=batch_size,
        device=device,
        amp=amp,
        workers=workers,
        replace_stale=True,
        extractor=extractor,
        stage=stage,
        extractor_params=dict(extractor_params or {}),
    )
    exported = export_cams(target, options, progress=phase(progress, "export"))
    with CamStore.open(exported.path) as store:
        recorded = recorded_protocol(store)
    chosen_protocol = recorded.model_validate({**recorded.model_dump(), **(protocol or {})})
    report = evaluate_store(
        exported.path,
        chosen_protocol,
        workers=eval_workers,
        progress=phase(progress, "evaluate"),
    )
    val = None
    val_split = _val_split(exported.path)
    if val_taus and val_split is not None and val_split != split:
        val = evaluate_checkpoint(
            target,
            split=val_split,
            checkpoint=checkpoint,
            data=data,
            protocol=chosen_protocol.model_dump(),
            device=device,
            amp=amp,
            batch_size=batch_size,
            workers=workers,
            eval_workers=eval_workers,
            progress=progress,
            val_taus=False,
            extractor=extractor,
            stage=stage,
            extractor_params=extractor_params,
        ).report
        report.read_at(Taus.from_scores(val.scores(), source="val"))
    return CheckpointEvaluation(chosen, exported.path, exported.written == 0, report, val)


def _val_split(store: Path) -> str | None:
    """The val split of the store's data, when the data has one."""
    from wsolkit.cams.store import CamStore

    with CamStore.open(store) as opened:
        settings = opened.settings()
        if settings is None:
            return None
        name = settings.data.val_split
        return name if name in opened.data_source().splits else None
