"""Tables and figures of localization results (:mod:`wsolkit.metrics` result objects)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from wsolkit.errors import WsolkitError
from wsolkit.io import atomic_path
from wsolkit.metrics.results import LocalizationResult, MaskResult

if TYPE_CHECKING:
    from wsolkit.metrics.report import EvaluationReport
    from wsolkit.metrics.scores import AtTaus


def _pct(value: float) -> str:
    return f"{value:.2f}"


def localization_table(result: LocalizationResult, at_tau: AtTaus | None = None) -> Table:
    """One row per IoU level (MaxBoxAcc, best CAM threshold), the mean, GT-known and Top-1 Loc,
    the threshold-free IoUs, and — given ``at_tau`` — the same read at thresholds chosen
    elsewhere (val), beside the oracle numbers."""
    mode = "multi-contour" if result.multi_contour else "single contour"
    table = Table(
        title=f"Box localization — {result.images:,} images, {mode}, "
        f"CAM threshold step {result.cam_curve_interval:g}",
        title_justify="left",
    )
    table.add_column("metric", style="bold")
    table.add_column("value (%)", justify="right")
    table.add_column("best CAM threshold", justify="right")
    best = result.best_threshold
    for level, value in result.max_box_acc.items():
        table.add_row(f"MaxBoxAcc @ IoU {level}", _pct(value), f"{best[level]:.3f}")
    name = "MaxBoxAccV2" if result.is_canonical_v2 else "mean over IoU levels"
    table.add_row(name, _pct(result.max_box_acc_v2), "", style="bold green")
    if 50 in result.iou_thresholds:
        table.add_row("GT-known Loc (IoU 50)", _pct(result.max_box_acc[50]), f"{best[50]:.3f}")
        top1 = result.top1_loc()
        if top1 is not None:
            curve = result.top1_loc_curve[result.iou_thresholds.index(50)]  # type: ignore[index]
            table.add_row(
                "Top-1 Loc (IoU 50)", _pct(top1), f"{result.thresholds[curve.argmax()]:.3f}"
            )
            table.add_row(
                "Top-1 Loc at the GT-known best threshold",
                _pct(result.top1_loc_at(best[50]) or 0.0),
                f"{best[50]:.3f}",
            )
    if result.mean_iou is not None:
        table.add_row("mean best IoU (each image its own threshold)", _pct(result.mean_iou), "")
        table.add_row(
            "raw IoU (one threshold for the split)",
            _pct(result.raw_iou or 0.0),
            f"{result.raw_iou_threshold:.3f}",
        )
    if at_tau is not None and at_tau.box_acc is not None:
        taus, source = at_tau.taus.box or {}, at_tau.taus.source
        table.add_section()
        for level, value in at_tau.box_acc.items():
            label = f"BoxAcc @ IoU {level} at {source} τ"
            table.add_row(label, _pct(value), f"{taus[level]:.3f}")
        table.add_row(f"mean at {source} τ", _pct(at_tau.mean or 0.0), "", style="bold")
        if at_tau.gt_known_loc is not None:
            table.add_row(
                f"GT-known Loc at {source} τ", _pct(at_tau.gt_known_loc), f"{taus['50']:.3f}"
            )
        if at_tau.top1_loc is not None:
            table.add_row(f"Top-1 Loc at {source} τ", _pct(at_tau.top1_loc), f"{taus['50']:.3f}")
    return table


def mask_table(result: MaskResult, at_tau: AtTaus | None = None) -> Table:
    """PxAP and pIoU of a mask split, and the pixel scores at a threshold chosen elsewhere."""
    table = Table(
        title=f"Mask localization — {result.images:,} images, "
        f"CAM threshold step {result.cam_curve_interval:g}",
        title_justify="left",
    )
    table.add_column("metric", style="bold")
    table.add_column("value (%)", justify="right")
    table.add_column("CAM threshold", justify="right")
    table.add_row("PxAP", _pct(result.pxap), "", style="bold green")
    if result.positive is not None:
        table.add_row("pIoU (best pixel IoU)", _pct(result.piou), f"{result.piou_threshold:.3f}")
    if at_tau is not None and at_tau.mask is not None:
        pixels, source = at_tau.mask, at_tau.taus.source
        for name in ("precision", "recall", "f1", "iou"):
            value = _pct(getattr(pixels, name))
            table.add_row(f"pixel {name} at {source} τ", value, f"{pixels.threshold:.3f}")
    return table


def report_tables(report: EvaluationReport) -> list[Table]:
    """The tables of an ``wsolkit eval`` report, boxes first."""
    tables = []
    if report.box is not None:
        tables.append(localization_table(report.box, report.at_tau))
    if report.mask is not None:
        tables.append(mask_table(report.mask, report.at_tau))
    return tables


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise WsolkitError(
            "--plot needs matplotlib: install it with `pip install 'wsolkit[plot]'`"
        ) from None
    return plt


def plot_box_acc(axes: Any, result: LocalizationResult) -> None:
    """BoxAcc vs CAM threshold, one line per IoU level, each maximum marked."""
    best = result.best_threshold
    for level, curve in zip(result.iou_thresholds, result.box_acc, strict=True):
        (line,) = axes.plot(result.thresholds, curve, label=f"IoU {level}: {curve.max():.2f}")
        axes.plot([best[level]], [curve.max()], "o", color=line.get_color())
    axes.set_xlabel("CAM threshold")
    axes.set_ylabel("BoxAcc (%)")
    name = "MaxBoxAccV2" if result.is_canonical_v2 else "mean"
    axes.set_title(f"{name} {result.max_box_acc_v2:.2f}")
    axes.set_xlim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")


def plot_pr_curve(axes: Any, result: MaskResult) -> None:
    """Pixel precision-recall curve with PxAP in the legend."""
    keep = ~(result.precision != result.precision)  # drop NaN (nothing predicted positive)
    axes.plot(result.recall[keep], result.precision[keep], label=f"PxAP {result.pxap:.2f}")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")


def save_figure(report: EvaluationReport, path: Path | str) -> None:
    """Write the report's curves to ``path`` (format from its suffix), atomically."""
    plt = _pyplot()
    path = Path(path)
    panels = [p for p in (report.box, report.mask) if p is not None]
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, result in zip(axes[0], panels, strict=True):
        if isinstance(result, LocalizationResult):
            plot_box_acc(ax, result)
        else:
            plot_pr_curve(ax, result)
    figure.tight_layout()
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    except (OSError, ValueError) as exc:
        raise WsolkitError(f"--plot {path}: cannot write the figure ({exc})") from None
    finally:
        plt.close(figure)
