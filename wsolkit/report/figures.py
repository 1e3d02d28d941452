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
    """BoxAcc vs CAM threshold at IoU 50, one line per distinct curve, one panel per
    dataset/split.

    A curve is named once, ``run · checkpoint · source``: rows with the same curve (best and
    last of a run that ended on its best epoch; a run and the store exported from it) share
    one line whose label lists them all.
    """
    from wsolkit.report.compare import groups, short_names

    plt = pyplot()
    grouped = {k: [r for r in v if r.curve_50] for k, v in groups(rows).items()}
    grouped = {k: v for k, v in grouped.items() if v}
    if not grouped:
        raise UsageError("--plot: no input has a BoxAcc curve (box datasets only)")
    fig, axes = plt.subplots(1, len(grouped), figsize=(6.4 * len(grouped), 4.8), squeeze=False)
    for ax, ((dataset, split), members) in zip(axes[0], grouped.items(), strict=True):
        names = short_names([r.name for r in members], width=24)
        for curve, labels in _distinct_curves(members, names).items():
            values = list(curve[1])
            thresholds = list(curve[0]) or [i / len(values) for i in range(len(values))]
            best = max(values)
            ax.plot(thresholds, values, label=f"{' + '.join(labels)}: {best:.1f}")
            at = values.index(best)
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


def _distinct_curves(
    members: list[Any], names: dict[str, str]
) -> dict[tuple[tuple[float, ...], tuple[float, ...]], list[str]]:
    """Each distinct (thresholds, curve) with the labels of the rows that have it."""
    curves: dict[tuple[tuple[float, ...], tuple[float, ...]], list[str]] = {}
    for row in members:
        source = "store" if str(row.source).endswith((".h5", ".hdf5")) else "run"
        label = f"{names[row.name]} · {row.checkpoint} · {source}"
        key = (tuple(row.thresholds or ()), tuple(row.curve_50))
        if label not in curves.setdefault(key, []):
            curves[key].append(label)
    return curves
