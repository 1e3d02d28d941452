"""``wsolkit eval``: localization metrics of saved score maps against a metadata split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from wsolkit.cli._app import app, err_console, out_console
from wsolkit.errors import UsageError

if TYPE_CHECKING:
    from wsolkit.data.metadata import SplitMetadata
    from wsolkit.metrics import EvaluationReport, FolderSource

EPILOG = """
**Examples**

- `wsolkit eval --scoremaps runs/x/scoremaps/test --metadata metadata/CUB/test` — MaxBoxAccV2
  (multi-contour, IoU 30/50/70) and the best CAM threshold per IoU level.
- `wsolkit eval --scoremaps S --metadata M --single-contour --iou-thresholds 50` — the old
  MaxBoxAcc.
- `wsolkit eval --scoremaps S --metadata metadata/OpenImages/test --mask-root data/OpenImages`
  — PxAP (mask paths in localization.txt are relative to --mask-root).
- `wsolkit eval --scoremaps S --metadata M --json --workers 2 --plot curves.png`

Score maps: `DIR/<image_id>.npy` (e.g. `123/456.JPEG.npy`) or `DIR/<image_id without
extension>.npy`, 2-D float in [0, 1] at --eval-size, used as they are.
"""


def parse_iou_thresholds(text: str) -> tuple[int, ...]:
    """``"30,50,70"`` → (30, 50, 70); each an integer percentage in 1..100."""
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--iou-thresholds '{text}': expected comma-separated integers, e.g. 30,50,70"
        ) from None
    if not levels or any(not 0 < level <= 100 for level in levels):
        raise UsageError(f"--iou-thresholds '{text}': each level must be in 1..100 (percent)")
    if len(set(levels)) != len(levels):
        raise UsageError(f"--iou-thresholds '{text}': a level is repeated")
    return levels


@app.command("eval", epilog=EPILOG)
def evaluate(
    scoremaps: Path | None = typer.Option(
        None, "--scoremaps", help="Folder of wsolevaluation-style .npy score maps."
    ),
    cams: Path | None = typer.Option(
        None, "--cams", help="A CAM store (wsolkit export-cams): no model, no images needed."
    ),
    metadata: Path | None = typer.Option(
        None,
        "--metadata",
        help="Metadata split folder (image_ids.txt, localization.txt, …); a CAM store "
        "records its own.",
    ),
    mask_root: Path | None = typer.Option(
        None, "--mask-root", help="Folder the mask paths are relative to (mask datasets: PxAP)."
    ),
    cam_curve_interval: float = typer.Option(
        0.001, "--cam-curve-interval", help="Step of the CAM threshold sweep (canonical 0.001)."
    ),
    iou_thresholds: str = typer.Option(
        "30,50,70", "--iou-thresholds", help="IoU levels in percent; the mean is MaxBoxAccV2."
    ),
    single_contour: bool = typer.Option(
        False, "--single-contour", help="Keep only the largest contour (the old MaxBoxAcc)."
    ),
    eval_size: int = typer.Option(
        224, "--eval-size", min=8, help="Evaluation resolution; maps must be this size."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes that evaluate maps."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object (metrics and full curves) to stdout."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Save BoxAcc-vs-threshold (and PR curve) as a figure (.png/.pdf)."
    ),
) -> None:
    """Evaluate saved score maps or a CAM store: MaxBoxAcc per IoU level, MaxBoxAccV2, best
    thresholds, GT-known / Top-1 Loc and accuracy (stores), PxAP."""
    from wsolkit.data.metadata import read_split
    from wsolkit.metrics import FolderSource, ScoremapFolder

    if not 0 < cam_curve_interval < 1:
        raise UsageError(f"--cam-curve-interval {cam_curve_interval}: must lie in (0, 1)")
    levels = parse_iou_thresholds(iou_thresholds)
    if (scoremaps is None) == (cams is None):
        raise UsageError("give exactly one of --scoremaps DIR (with --metadata) or --cams FILE.h5")
    if cams is not None:
        _evaluate_store(
            cams, metadata, mask_root, cam_curve_interval, levels, single_contour, as_json, plot
        )
        return
    if metadata is None:
        raise UsageError("--scoremaps needs --metadata SPLIT_DIR (the split the maps belong to)")
    split = read_split(metadata, require_localization=True)
    # The map source: a score-map folder. (A CAM store plugs in here as another source.)
    folder = ScoremapFolder.scan(scoremaps, split.image_ids)
    source = FolderSource(folder, eval_size)
    notes = []
    if folder.extra:
        examples = ", ".join(folder.extra_examples)
        notes.append(
            f"ignored {folder.extra} .npy file(s) in {scoremaps} that match no image id "
            f"(e.g. {examples})"
        )
    report = _run(
        source, split, mask_root, eval_size, cam_curve_interval, levels, single_contour, workers
    )
    report.notes[:0] = notes
    _render(report, {}, as_json, plot)


def _evaluate_store(
    cams: Path,
    metadata: Path | None,
    mask_root: Path | None,
    interval: float,
    levels: tuple[int, ...],
    single_contour: bool,
    as_json: bool,
    plot: Path | None,
) -> None:
    from wsolkit.cams.evaluate import evaluate_store_report

    report, classification = evaluate_store_report(
        cams,
        metadata=metadata,
        mask_root=mask_root,
        cam_curve_interval=interval,
        iou_thresholds=levels,
        multi_contour=not single_contour,
    )
    _render(report, classification, as_json, plot)


def _render(
    report: EvaluationReport, classification: dict[str, float], as_json: bool, plot: Path | None
) -> None:
    if plot is not None:
        from wsolkit.report.metrics import save_figure

        save_figure(report, plot)
        report.notes.append(f"figure saved to {plot}")
    if as_json:
        typer.echo(json.dumps({**classification, **report.to_dict()}, allow_nan=False))
        for note in report.notes:
            err_console.print(f"[dim]note:[/] {note}")
        return
    from wsolkit.report.metrics import report_tables

    for table in report_tables(report):
        out_console.print(table)
    if classification:
        top1, top5 = classification["top1"], classification["top5"]
        out_console.print(f"classification: top-1 {top1:.2f}  top-5 {top5:.2f}")
    for note in report.notes:
        out_console.print(f"[dim]note:[/] {note}")


def _run(
    source: FolderSource,
    split: SplitMetadata,
    mask_root: Path | None,
    eval_size: int,
    interval: float,
    levels: tuple[int, ...],
    single_contour: bool,
    workers: int,
) -> EvaluationReport:
    """Evaluate with a progress bar on stderr (drawn only on a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from wsolkit.metrics import evaluate_scoremaps

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("evaluating score maps", total=len(split.image_ids))
        return evaluate_scoremaps(
            source,
            split,
            mask_root=mask_root,
            eval_size=eval_size,
            cam_curve_interval=interval,
            iou_thresholds=levels,
            multi_contour=not single_contour,
            workers=workers,
            progress=lambda n: bar.advance(task, n),
        )
