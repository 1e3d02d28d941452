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

from wsolkit.engine.summary import RunSummary
from wsolkit.errors import UsageError
from wsolkit.metrics.scores import SplitScores, legend

# Metric columns come from the score models: a metric that adds a column there shows up here.
METRICS: tuple[tuple[str, str], ...] = tuple((c.key, c.label) for c in SplitScores.columns())
LEGEND = legend(SplitScores.columns())


# TS-CAM's own numbers at its fixed threshold (``compare --ts-cam-tau``; wsolkit.metrics.tscam):
# shown only when some row has them.
TS_CAM_METRICS: tuple[tuple[str, str], ...] = (
    ("ts_cam_top1_loc", "TS·T1L"),
    ("ts_cam_top5_loc", "TS·T5L"),
    ("ts_cam_gt_known_loc", "TS·GT"),
)
TS_CAM_LEGEND = "TS·…: TS-CAM's own Top-1/Top-5/GT-known Loc at its fixed τ (not MaxBoxAccV2)"
ALL_METRICS = METRICS + TS_CAM_METRICS


def legend_of(rows: list[CompareRow]) -> str:
    """The legend of the metric columns these rows show."""
    shown = {key for key, _ in visible_metrics(rows)}
    text = legend(tuple(c for c in SplitScores.columns() if c.key in shown))
    if shown & set(dict(TS_CAM_METRICS)):
        text += " · " + TS_CAM_LEGEND
    return text


def metric_columns(rows: list[CompareRow]) -> tuple[tuple[str, str], ...]:
    """Every metric column of a CSV of ``rows``: the protocol's, then TS-CAM's if present."""
    present = any(r.metrics.get(k) is not None for r in rows for k, _ in TS_CAM_METRICS)
    return ALL_METRICS if present else METRICS


LABELS: tuple[tuple[str, str], ...] = (
    ("name", "run"),
    ("dataset", "dataset"),
    ("split", "split"),
    ("backbone", "backbone"),
    ("method", "method"),
    ("checkpoint", "ckpt"),
    ("extractor", "maps"),
    ("stage", "stage"),
    ("selected_by", "sel"),
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
    selected_by: str = ""  # the val boxes that chose a best checkpoint ("gt" or a box set)
    extractor: str = "cam"  # what made the maps: the method's own CAMs or a post-hoc extractor
    stage: str = ""  # the backbone stage a post-hoc extractor explained ("": the final map)
    metrics: dict[str, float | None] = field(default_factory=dict)
    curve_50: list[float] | None = None  # BoxAcc vs threshold at IoU 50
    thresholds: list[float] | None = None
    best_threshold_50: float | None = None

    def value(self, key: str) -> Any:
        """A label or a metric by key (for sorting and filtering)."""
        return self.metrics.get(key) if key in dict(ALL_METRICS) else getattr(self, key)


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


def rows_from_summary(run_dir: Path, summary: RunSummary) -> list[CompareRow]:
    """One row per tested checkpoint of a run's ``summary.json``."""
    return [
        CompareRow(
            name=run_dir.name,
            source=str(run_dir),
            dataset=summary.dataset or "?",
            split=summary.test_split,
            backbone=summary.backbone,
            method=summary.method,
            checkpoint=checkpoint,
            selected_by=(summary.selected_by or "gt") if checkpoint == "best" else "",
            **metrics_of(scores),
        )
        for checkpoint, scores in summary.test.items()
    ]


def label_columns(rows: list[CompareRow]) -> list[tuple[str, str]]:
    """The label columns of a table of ``rows`` (dataset and split are its title); the
    selection column only when some row was chosen by a box set other than the GT, the
    maps and stage columns only when some row holds post-hoc maps or a stage."""
    shown = {
        "selected_by": any(r.selected_by not in ("", "gt") for r in rows),
        "extractor": any(r.extractor != "cam" for r in rows),
        "stage": any(r.stage for r in rows),
    }
    return [
        (k, label) for k, label in LABELS if k not in ("dataset", "split") and shown.get(k, True)
    ]


def maps_title(row: CompareRow) -> str:
    """A row's name with its extractor and stage, when they are not the method's own CAMs."""
    if row.extractor == "cam" and not row.stage:
        return row.name
    return f"{row.name} · {row.extractor}" + (f" @ {row.stage}" if row.stage else "")


def metrics_of(scores: SplitScores) -> dict[str, Any]:
    """A row's metric values, its BoxAcc curve at IoU 50 and that curve's best threshold."""
    loc = scores.localization
    curves = loc.curves if loc is not None else None
    return {
        "metrics": scores.column_values(),
        "curve_50": loc.curve(50) if loc is not None else None,
        "thresholds": curves.thresholds if curves is not None else None,
        "best_threshold_50": (loc.best_threshold or {}).get("50") if loc is not None else None,
    }


def read_run(path: Path) -> list[CompareRow]:
    """Rows of a run directory; a run without summary.json is not finished (error)."""
    from wsolkit.engine.rundir import RunDir

    return rows_from_summary(path, RunDir(path).read_summary())


def read_store(path: Path) -> list[CompareRow]:
    """One row for a CAM store, evaluated from the store alone (its recorded protocol)."""
    from wsolkit.cams.evaluate import evaluate_store
    from wsolkit.cams.store import CamStore

    with CamStore.open(path) as store:
        p = store.provenance
    scores = evaluate_store(path).scores(curves=True)
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
            extractor=p.extractor or "cam",
            stage=p.stage,
            **metrics_of(scores),
        )
    ]


def add_ts_cam(rows: list[CompareRow], tau: float) -> list[str]:
    """Fill TS-CAM's numbers at ``tau`` into each row that has raw CAMs: a raw store, or a
    run checkpoint whose CAMs ``wsolkit eval RUN`` cached (``eval-<split>-<ckpt>.h5``).
    Returns one note per row left without them."""
    from wsolkit.cams.errors import CamStoreError
    from wsolkit.cams.evaluate import evaluate_store_tscam

    notes = []
    for row in rows:
        source = Path(row.source)
        store = source if source.is_file() else source / f"eval-{row.split}-{row.checkpoint}.h5"
        if not store.is_file():
            notes.append(
                f"{row.name} ({row.checkpoint}): no raw CAMs for TS-CAM's numbers; run "
                f"`wsolkit eval {source} --checkpoint {row.checkpoint}` once to cache them"
            )
            continue
        try:
            scores = evaluate_store_tscam(store, tau)
        except CamStoreError as exc:  # e.g. not raw CAMs, no predictions: named, row kept
            notes.append(str(exc))
            continue
        row.metrics.update(
            ts_cam_top1_loc=scores.top1_loc,
            ts_cam_top5_loc=scores.top5_loc,
            ts_cam_gt_known_loc=scores.gt_known_loc,
        )
    return notes


def parse_where(clauses: Iterable[str]) -> list[tuple[str, str]]:
    """``key=value`` filters; the key must be a column."""
    keys = {k for k, _ in LABELS} | {k for k, _ in ALL_METRICS}
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
    if key in dict(ALL_METRICS):
        return sorted(rows, key=lambda r: (r.value(key) is None, -(r.value(key) or 0.0)))
    if key in dict(LABELS):
        return sorted(rows, key=lambda r: str(r.value(key)))
    raise UsageError(
        f"--sort '{key}': not a column; use one of {', '.join(k for k, _ in LABELS + ALL_METRICS)}"
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
    for key, _ in ALL_METRICS:
        values = [r.metrics.get(key) for r in rows if r.metrics.get(key) is not None]
        if values:
            best[key] = max(values)  # type: ignore[type-var]
    return best


def visible_metrics(rows: list[CompareRow]) -> list[tuple[str, str]]:
    """Metric columns that at least one row has."""
    return [
        (k, label) for k, label in ALL_METRICS if any(r.metrics.get(k) is not None for r in rows)
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


_SEPARATORS = "-_./ "


def _common_prefix(names: list[str]) -> str:
    """The longest prefix every name shares, cut back to a separator (``synthetic-tiny-``)."""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind(c) for c in _SEPARATORS) + 1
    return prefix[:cut]


def ellipsize(name: str, width: int) -> str:
    """``name`` cut in the middle to ``width`` characters (``synthetic…225736``)."""
    if len(name) <= width:
        return name
    head = width // 2
    tail = width - 1 - head
    return name[:head] + "…" + (name[-tail:] if tail else "")


def short_names(names: list[str], width: int = 16) -> dict[str, str]:
    """A short, unique display name for each distinct name, to fit a table or a legend.

    The prefix every name shares is dropped (at a separator), and what is still longer
    than ``width`` is cut in the middle; where two names would then look alike, both keep
    more. A single name is only cut. Returns ``{full: short}``.
    """
    distinct = list(dict.fromkeys(names))
    if not distinct:
        return {}
    prefix = _common_prefix(distinct) if len(distinct) > 1 else ""
    stems = {n: n[len(prefix) :] or n for n in distinct}
    for limit in range(width, max(len(s) for s in stems.values()) + 1):
        shortened = {n: ellipsize(stem, limit) for n, stem in stems.items()}
        if len(set(shortened.values())) == len(shortened):
            return shortened
    return stems


def name_key(mapping: dict[str, str]) -> str | None:
    """``short = full`` for every name that was shortened, for a key below a table."""
    pairs = [f"{short} = {full}" for full, short in mapping.items() if short != full]
    return "names: " + " · ".join(pairs) if pairs else None


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
    metrics = metric_columns(rows)
    writer.writerow([k for k, _ in LABELS] + [k for k, _ in metrics])
    for r in rows:
        writer.writerow(
            [_text(r.value(k)) for k, _ in LABELS] + [_text(r.metrics.get(k)) for k, _ in metrics]
        )
    return buffer.getvalue()


def to_markdown(rows: list[CompareRow]) -> str:
    """A markdown table per dataset/split, the best value of each column in bold."""
    parts = []
    for (dataset, split), members in groups(rows).items():
        metrics = visible_metrics(members)
        best = best_values(members)
        labels = label_columns(members)
        header = [label for _, label in labels] + [lbl for _, lbl in metrics]
        lines = [f"**{dataset} / {split}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join(["---"] * len(labels) + ["---:"] * len(metrics)) + "|")
        for r in members:
            cells = [_text(r.value(k)) for k, _ in labels]
            for k, _ in metrics:
                v = r.metrics.get(k)
                cell = _text(v)
                cells.append(f"**{cell}**" if v is not None and v == best.get(k) else cell)
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join([*parts, legend_of(rows)]) + "\n"
