"""The final table of a training run."""

from __future__ import annotations

from rich import box
from rich.table import Table

from wsolkit.engine.summary import RunSummary


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def summary_table(summary: RunSummary) -> Table:
    """One row per tested checkpoint (best, last): classification and localization."""
    minutes = (summary.train_time_s or 0.0) / 60
    title = (
        f"{summary.dataset or 'data'} · {summary.backbone} · {summary.method} — "
        f"{summary.epochs} epochs in {minutes:.1f} min"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    table.add_column("ckpt", style="bold", no_wrap=True, min_width=4)
    table.add_column("ep", justify="right", no_wrap=True)
    levels = summary.iou_thresholds
    headers = ["Top-1", "Top-5", *(f"@{level}" for level in levels), "V2", "T1Loc", "PxAP"]
    for header in headers:  # numbers never wrap or get cut
        table.add_column(header, justify="right", no_wrap=True, min_width=5)
    table.caption = (
        "Top-1/Top-5: classification accuracy · @δ: MaxBoxAcc at IoU δ% · V2: MaxBoxAccV2 · "
        "T1Loc: Top-1 Loc at IoU 50 · PxAP on masks"
    )
    for name, scores in summary.test.items():
        loc, mask = scores.localization, scores.mask
        per_level = loc.max_box_acc if loc is not None else {}
        table.add_row(
            name,
            str(summary.checkpoint_epoch(name)),
            _fmt(scores.top1),
            _fmt(scores.top5),
            *(_fmt(per_level.get(str(level))) for level in levels),
            _fmt(loc.max_box_acc_v2 if loc is not None else None),
            _fmt(loc.top1_loc.value if loc is not None and loc.top1_loc else None),
            _fmt(mask.pxap if mask is not None else None),
        )
    if not summary.test:
        table.caption = "no test split: nothing was tested"
    if summary.skipped_images:
        table.caption += f" · {summary.skipped_images} unreadable image(s) skipped"
    return table
