"""The final table of a training run."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table


def _fmt(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per tested checkpoint (best, last): classification and localization."""
    settings = summary["settings"]
    title = (
        f"{settings['data'].get('dataset') or 'data'} · {settings['model']['backbone']} · "
        f"{settings['method']['name']} — {summary['epochs']} epochs in "
        f"{summary['train_time_s'] / 60:.1f} min"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    table.add_column("ckpt", style="bold", no_wrap=True, min_width=4)
    table.add_column("ep", justify="right", no_wrap=True)
    levels = settings["eval"]["iou_thresholds"]
    headers = ["Top-1", "Top-5", *(f"@{level}" for level in levels), "V2", "T1Loc", "PxAP"]
    for header in headers:  # numbers never wrap or get cut
        table.add_column(header, justify="right", no_wrap=True, min_width=5)
    table.caption = (
        "Top-1/Top-5: classification accuracy · @δ: MaxBoxAcc at IoU δ% · V2: MaxBoxAccV2 · "
        "T1Loc: Top-1 Loc at IoU 50 · PxAP on masks"
    )
    for name, result in summary["test"].items():
        loc = result.get("localization") or {}
        per_level = loc.get("max_box_acc", {})
        row = [
            name,
            str(summary["best_epoch"] if name == "best" else summary["epochs"]),
            _fmt(result.get("top1")),
            _fmt(result.get("top5")),
            *(_fmt(per_level.get(str(level))) for level in levels),
            _fmt(loc.get("max_box_acc_v2")),
            _fmt((loc.get("top1_loc") or {}).get("value")),
            _fmt((result.get("mask") or {}).get("pxap")),
        ]
        table.add_row(*row)
    if not summary["test"]:
        table.caption = "no test split: nothing was tested"
    skipped = summary.get("skipped_images")
    if skipped:
        table.caption += f" · {skipped} unreadable image(s) skipped"
    return table
