"""Figures of ``wsolkit compare`` (matplotlib, imported lazily: ``pip install wsolkit[plot]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsolkit.errors import UsageError
from wsolkit.io import atomic_path


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend, or a one-line install hint."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(
            "figures need matplotlib: pip install 'wsolkit[plot]' (or pip install matplotlib)"
        ) from None
    return plt


def save_figure(fig: Any, path: Path, dpi: int = 100) -> None:
    """Write a PNG atomically (size = figsize × dpi) and close the figure."""
    plt = pyplot()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)


def plot_compare_curves(rows: list[Any], path: Path) -> None:
    """BoxAcc vs CAM threshold at IoU 50, one line per row, one panel per dataset/split."""
    from wsolkit.report.compare import groups

    plt = pyplot()
    grouped = {k: [r for r in v if r.curve_50] for k, v in groups(rows).items()}
    grouped = {k: v for k, v in grouped.items() if v}
    if not grouped:
        raise UsageError("--plot: no input has a BoxAcc curve (box datasets only)")
    fig, axes = plt.subplots(1, len(grouped), figsize=(6.4 * len(grouped), 4.8), squeeze=False)
    for ax, ((dataset, split), members) in zip(axes[0], grouped.items(), strict=True):
        for row in members:
            thresholds = row.thresholds or [i / len(row.curve_50) for i in range(len(row.curve_50))]
            best = max(row.curve_50)
            ax.plot(thresholds, row.curve_50, label=f"{row.name} ({row.checkpoint}) {best:.1f}")
            at = row.curve_50.index(best)
            ax.plot([thresholds[at]], [best], marker="o", color=ax.lines[-1].get_color())
        ax.set(
            title=f"{dataset} / {split}: BoxAcc at IoU 50",
            xlabel="CAM threshold",
            ylabel="BoxAcc (%)",
            xlim=(0, 1),
            ylim=(0, 100),
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    save_figure(fig, path)
