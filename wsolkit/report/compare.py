"""Rows of ``wsolkit compare``: one per (run, checkpoint) or CAM store, as plain data.

Sources are run directories (their ``summary.json``) and CAM stores (evaluated
from the store alone). Rows of different dataset/split are grouped, never mixed.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wsolkit.errors import UsageError

METRICS: tuple[tuple[str, str], ...] = (
    ("top1", "Top-1"),
    ("top5", "Top-5"),
    ("top1_loc", "T1Loc"),
    ("gt_known_loc", "GTLoc"),
    ("box_acc_30", "@30"),
    ("box_acc_50", "@50"),
    ("box_acc_70", "@70"),
    ("max_box_acc_v2", "V2"),
    ("pxap", "PxAP"),
)
LEGEND = (
    "Top-1/Top-5: classification accuracy · T1Loc: Top-1 Loc · GTLoc: GT-known Loc "
    "(IoU 50, at the best threshold) · @δ: MaxBoxAcc at IoU δ% · V2: MaxBoxAccV2 · "
    "PxAP: pixel average precision"
)
LABELS: tuple[tuple[str, str], ...] = (
    ("name", "run"),
    ("dataset", "dataset"),
    ("split", "split"),
    ("backbone", "backbone"),
    ("method", "method"),
    ("checkpoint", "ckpt"),
)


@dataclass
class CompareRow:
    """One line of the comparison."""

    name: str
    source: str
    dataset: str
    split: str
    backbone: str
    method: str
    checkpoint: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    curve_50: list[float] | None = None  # BoxAcc vs threshold at IoU 50
    thresholds: list[float] | None = None
    best_threshold_50: float | None = None

    def value(self, key: str) -> Any:
        """A label or a metric by key (for sorting and filtering)."""
        return self.metrics.get(key) if key in dict(METRICS) else getattr(self, key)


def expand_inputs(patterns: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Paths from literal paths and globs; patterns matching nothing become warnings."""
    paths: list[Path] = []
    missing: list[str] = []
    for pattern in patterns:
        if Path(pattern).exists():
            paths.append(Path(pattern))
            continue
        matches = sorted(glob.glob(pattern))
        if matches:
            paths += [Path(m) for m in matches]
        else:
            missing.append(f"{pattern}: no such run directory or CAM store")
    return paths, missing


def rows_from_summary(run_dir: Path, summary: dict[str, Any]) -> list[CompareRow]:
    """One row per tested checkpoint of a run's ``summary.json``."""
    settings = summary["settings"]
    rows = []
    for checkpoint, result in summary.get("test", {}).items():
        rows.append(
            CompareRow(
                name=run_dir.name,
                source=str(run_dir),
                dataset=settings["data"].get("dataset") or "?",
                split=settings["data"].get("test_split", "test"),
                backbone=settings["model"]["backbone"],
                method=settings["method"]["name"],
                checkpoint=checkpoint,
                **metrics_of(result),
            )
        )
    return rows


def metrics_of(result: dict[str, Any]) -> dict[str, Any]:
    """Flatten an evaluation result (engine format) into row metrics and the @50 curve."""
    loc = result.get("localization") or {}
    per_level = loc.get("max_box_acc", {})
    metrics: dict[str, float | None] = {
        "top1": result.get("top1"),
        "top5": result.get("top5"),
        "top1_loc": (loc.get("top1_loc") or {}).get("value"),
        "gt_known_loc": (loc.get("gt_known_loc") or {}).get("value"),
        "box_acc_30": per_level.get("30"),
        "box_acc_50": per_level.get("50"),
        "box_acc_70": per_level.get("70"),
        "max_box_acc_v2": loc.get("max_box_acc_v2"),
        "pxap": (result.get("mask") or {}).get("pxap"),
    }
    curves = loc.get("curves") or {}
    return {
        "metrics": metrics,
        "curve_50": (curves.get("box_acc") or {}).get("50"),
        "thresholds": curves.get("thresholds"),
        "best_threshold_50": (loc.get("best_threshold") or {}).get("50"),
    }


def read_run(path: Path) -> list[CompareRow]:
    """Rows of a run directory; a run without summary.json is not finished (error)."""
    summary_file = path / "summary.json"
    if not summary_file.is_file():
        raise UsageError(f"{path}: no summary.json (the run has not finished its test evaluation)")
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{summary_file}: unreadable ({exc})") from None
    return rows_from_summary(path, summary)


def read_store(path: Path) -> list[CompareRow]:
    """One row for a CAM store, evaluated from the store alone (its recorded protocol)."""
    from wsolkit.cams.evaluate import evaluate_store
    from wsolkit.cams.store import CamStore

    with CamStore.open(path) as store:
        p = store.provenance
        protocol = _store_protocol(p.settings)
    result = evaluate_store(path, **protocol)
    checkpoint = Path(p.checkpoint).stem if p.checkpoint else p.source or "store"
    # export-cams names stores cams-<split>-<ckpt>.h5 inside the run: the run names the row.
    name = path.parent.name if path.stem.startswith("cams-") else path.stem
    return [
        CompareRow(
            name=name,
            source=str(path),
            dataset=p.dataset or "?",
            split=p.split or "?",
            backbone=p.backbone or "?",
            method=p.method or "?",
            checkpoint=checkpoint,
            **metrics_of(result),
        )
    ]


def _store_protocol(settings_text: str) -> dict[str, Any]:
    """The evaluation protocol a model store's run used (the canonical one otherwise)."""
    if not settings_text:
        return {}
    from wsolkit.settings import Settings

    e = Settings.model_validate_json(settings_text).eval
    return {
        "cam_curve_interval": e.cam_curve_interval,
        "iou_thresholds": tuple(e.iou_thresholds),
        "multi_contour": e.multi_contour,
    }


def parse_where(clauses: Iterable[str]) -> list[tuple[str, str]]:
    """``key=value`` filters; the key must be a column."""
    keys = {k for k, _ in LABELS} | {k for k, _ in METRICS}
    out = []
    for clause in clauses:
        key, sep, value = clause.partition("=")
        if not sep or key not in keys:
            raise UsageError(
                f"--where '{clause}': expected KEY=VALUE with KEY one of {', '.join(sorted(keys))}"
            )
        out.append((key, value))
    return out


def select(rows: list[CompareRow], where: list[tuple[str, str]]) -> list[CompareRow]:
    """Rows matching every ``key=value`` (compared as text)."""
    return [r for r in rows if all(_text(r.value(k)) == v for k, v in where)]


def sort_rows(rows: list[CompareRow], key: str | None) -> list[CompareRow]:
    """Metrics sort high to low (missing last); labels alphabetically."""
    if key is None:
        return rows
    if key in dict(METRICS):
        return sorted(rows, key=lambda r: (r.value(key) is None, -(r.value(key) or 0.0)))
    if key in dict(LABELS):
        return sorted(rows, key=lambda r: str(r.value(key)))
    raise UsageError(
        f"--sort '{key}': not a column; use one of {', '.join(k for k, _ in LABELS + METRICS)}"
    )


def groups(rows: list[CompareRow]) -> dict[tuple[str, str], list[CompareRow]]:
    """Rows by (dataset, split): only rows of one group are comparable."""
    out: dict[tuple[str, str], list[CompareRow]] = {}
    for row in rows:
        out.setdefault((row.dataset, row.split), []).append(row)
    return out


def best_values(rows: list[CompareRow]) -> dict[str, float]:
    """The best (highest) value of every metric column that has one."""
    best: dict[str, float] = {}
    for key, _ in METRICS:
        values = [r.metrics.get(key) for r in rows if r.metrics.get(key) is not None]
        if values:
            best[key] = max(values)  # type: ignore[type-var]
    return best


def visible_metrics(rows: list[CompareRow]) -> list[tuple[str, str]]:
    """Metric columns that at least one row has."""
    return [(k, label) for k, label in METRICS if any(r.metrics.get(k) is not None for r in rows)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_json(rows: list[CompareRow]) -> str:
    """Every row with its metrics (curves left out), grouped by dataset/split."""
    payload = []
    for (dataset, split), members in groups(rows).items():
        items = []
        for r in members:
            item = asdict(r)
            item.pop("curve_50")
            item.pop("thresholds")
            item.pop("best_threshold_50")
            items.append(item)
        payload.append({"dataset": dataset, "split": split, "rows": items})
    return json.dumps(payload, indent=2)


def to_csv(rows: list[CompareRow]) -> str:
    """One CSV with every row; metrics with two decimals, empty when absent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([k for k, _ in LABELS] + [k for k, _ in METRICS])
    for r in rows:
        writer.writerow(
            [_text(r.value(k)) for k, _ in LABELS] + [_text(r.metrics.get(k)) for k, _ in METRICS]
        )
    return buffer.getvalue()


def to_markdown(rows: list[CompareRow]) -> str:
    """A markdown table per dataset/split, the best value of each column in bold."""
    parts = []
    for (dataset, split), members in groups(rows).items():
        metrics = visible_metrics(members)
        best = best_values(members)
        header = [label for k, label in LABELS if k not in ("dataset", "split")] + [
            lbl for _, lbl in metrics
        ]
        lines = [f"**{dataset} / {split}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join(["---"] * (len(LABELS) - 2) + ["---:"] * len(metrics)) + "|")
        for r in members:
            cells = [_text(r.value(k)) for k, _ in LABELS if k not in ("dataset", "split")]
            for k, _ in metrics:
                v = r.metrics.get(k)
                cell = _text(v)
                cells.append(f"**{cell}**" if v is not None and v == best.get(k) else cell)
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join([*parts, LEGEND]) + "\n"
