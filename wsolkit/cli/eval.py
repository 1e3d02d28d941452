"""``wsolkit eval``: localization metrics of saved score maps against a metadata split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from wsolkit.cli._app import command_app, err_console, out_console
from wsolkit.cli._bars import progress_bar
from wsolkit.cli.export import parse_params
from wsolkit.errors import UsageError

if TYPE_CHECKING:
    from wsolkit.metrics import EvaluationReport
    from wsolkit.settings.protocol import EvalProtocol

app = command_app()

EPILOG = """
**Examples**

- `wsolkit eval runs/my-run` — the run's best checkpoint on its test split, with its own
  protocol: the numbers of its summary.json (the CAMs are cached in runs/my-run/eval-test-best.h5).
- `wsolkit eval runs/my-run --split val --checkpoint last --json`
- `wsolkit eval imported.pt --data ~/data/CUB_200_2011/wsolkit` — a checkpoint of
  `wsolkit import-checkpoint` on a prepared dataset.
- `wsolkit eval dawsol-cub.pt --extractor bagcams` — post-hoc BagCAMs maps of a checkpoint
  (cached in eval-test-dawsol-cub-bagcams.h5).
- `wsolkit eval --cams runs/my-run/cams-test-best.h5` — a CAM store: no model, no images.
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


@app.command("eval", epilog=EPILOG)
def evaluate(
    target: Path | None = typer.Argument(
        None,
        help="A run directory or a checkpoint file: export its CAMs (cached) and evaluate them.",
        show_default=False,
    ),
    split: str = typer.Option("test", "--split", help="With a run or checkpoint: the split."),
    checkpoint: str = typer.Option(
        "best", "--checkpoint", help="With a run directory: best | last."
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="With a run or checkpoint: the prepared dataset (needed when the checkpoint "
        "records none, e.g. an imported one).",
    ),
    device: str | None = typer.Option(
        None, "--device", help="With a run or checkpoint: auto | cpu | cuda | cuda:N."
    ),
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
        None,
        "--mask-root",
        help="Folder the mask paths are relative to (mask datasets: PxAP); default: the one "
        "dataset.yaml records when --metadata is a split of a prepared folder.",
    ),
    cam_curve_interval: float | None = typer.Option(
        None,
        "--cam-curve-interval",
        help="Step of the CAM threshold sweep. [default: 0.001, the canonical step]",
        show_default=False,
    ),
    iou_thresholds: str | None = typer.Option(
        None,
        "--iou-thresholds",
        help="IoU levels in percent, comma-separated; the mean is MaxBoxAccV2. [default: 30,50,70]",
        show_default=False,
    ),
    single_contour: bool = typer.Option(
        False, "--single-contour", help="Keep only the largest contour (the old MaxBoxAcc)."
    ),
    eval_size: int | None = typer.Option(
        None,
        "--eval-size",
        help="Evaluation resolution S; score maps must be S×S. [default: 224; a CAM store's own]",
        show_default=False,
    ),
    tau_from: Path | None = typer.Option(
        None,
        "--tau-from",
        help="A CAM store of the val split: read this split also at the thresholds val finds "
        "best (a run directory does this with its own val split).",
    ),
    tau: float | None = typer.Option(
        None, "--tau", min=0.0, max=1.0, help="Read this split also at this CAM threshold."
    ),
    ts_cam_tau: float | None = typer.Option(
        None,
        "--ts-cam-tau",
        min=0.0,
        max=1.0,
        help="Also report TS-CAM's own Top-1 / Top-5 / GT-known Loc at this fixed threshold "
        "(its paper's: 0.1 CUB, 0.12 ImageNet): bilinear resize, largest contour, its box "
        "scaling and IoU rules (docs/transformers.md). A run, checkpoint or raw CAM store.",
    ),
    extractor: str = typer.Option(
        "cam",
        "--extractor",
        help="With a run or checkpoint: the score maps to evaluate, cam (the method's own) or "
        "a post-hoc extractor (grad-cam, bagcams, …; see `wsolkit export-cams --help`).",
    ),
    stage: str | None = typer.Option(
        None, "--stage", help="With --extractor: the backbone stage it explains."
    ),
    extractor_param: list[str] = typer.Option(
        [], "--extractor-param", help="With --extractor: KEY=VALUE (repeatable)."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes that evaluate maps."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object (metrics and full curves) to stdout."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Save BoxAcc-vs-threshold (and PR curve) as a figure (.png/.pdf)."
    ),
) -> None:
    """Evaluate a run or checkpoint, saved score maps or a CAM store: MaxBoxAcc per IoU level,
    MaxBoxAccV2, best thresholds, GT-known / Top-1 Loc, accuracy and PxAP."""
    from wsolkit.settings.protocol import EvalProtocol, parse_iou_levels

    if sum(x is not None for x in (target, scoremaps, cams)) != 1:
        raise UsageError(
            "give exactly one of RUN_DIR|CHECKPOINT, --scoremaps DIR (with --metadata) or "
            "--cams FILE.h5"
        )
    if checkpoint not in ("best", "last"):
        raise UsageError(f"--checkpoint {checkpoint}: use best or last")
    if tau is not None and tau_from is not None:
        raise UsageError("give --tau or --tau-from, not both")
    if ts_cam_tau is not None and scoremaps is not None:
        raise UsageError(
            "--ts-cam-tau needs raw CAMs (TS-CAM resizes them bilinearly): give a run, a "
            "checkpoint or a raw CAM store, not --scoremaps"
        )
    if target is None and (extractor != "cam" or stage is not None or extractor_param):
        raise UsageError(
            "--extractor, --stage and --extractor-param need a run directory or checkpoint: "
            "the maps are computed from the model"
        )
    flags = {
        "cam_curve_interval": ("--cam-curve-interval", cam_curve_interval),
        "iou_thresholds": (
            "--iou-thresholds",
            parse_iou_levels(iou_thresholds) if iou_thresholds is not None else None,
        ),
        "multi_contour": ("--single-contour", False if single_contour else None),
        "eval_size": ("--eval-size", eval_size),
    }
    protocol = EvalProtocol.from_flags(flags)  # every flag is checked before anything is read
    if target is not None:
        given = {name: value for name, (_, value) in flags.items() if value is not None}
        maps = {
            "extractor": extractor,
            "stage": stage,
            "extractor_params": parse_params(extractor_param, "--extractor-param"),
        }
        report, store = _evaluate_checkpoint(
            target, split, checkpoint, data, device, given, workers, maps
        )
    elif cams is not None:
        report, store = _evaluate_store(cams, metadata, mask_root, flags, workers), cams
    elif metadata is None:
        raise UsageError("--scoremaps needs --metadata SPLIT_DIR (the split the maps belong to)")
    else:
        assert scoremaps is not None
        report = _evaluate_folder(scoremaps, metadata, mask_root, protocol, workers)
    _read_at_taus(report, tau, tau_from, workers)
    ts_cam = None
    if ts_cam_tau is not None:
        from wsolkit.cams.evaluate import evaluate_store_tscam

        with progress_bar("TS-CAM convention") as progress:
            ts_cam = evaluate_store_tscam(
                store, ts_cam_tau, metadata=metadata if cams is not None else None,
                progress=progress,
            )  # fmt: skip
    _render(report, as_json, plot, ts_cam)


def _read_at_taus(
    report: EvaluationReport, tau: float | None, tau_from: Path | None, workers: int
) -> None:
    """``--tau`` / ``--tau-from``: also read the split at thresholds chosen elsewhere."""
    from wsolkit.metrics.scores import Taus

    if tau is None and tau_from is None:
        return
    protocol_of = report.box or report.mask
    assert protocol_of is not None
    if tau is not None:
        levels = report.box.iou_thresholds if report.box is not None else ()
        taus = Taus.given(tau, levels)
    else:
        from wsolkit.cams.evaluate import evaluate_store
        from wsolkit.settings.protocol import EvalProtocol

        assert tau_from is not None
        fields = {"cam_curve_interval": protocol_of.cam_curve_interval}
        if report.box is not None:
            fields.update(
                iou_thresholds=report.box.iou_thresholds, multi_contour=report.box.multi_contour
            )
        from wsolkit.cams import CamStore

        with CamStore.open(tau_from) as store:
            size = store.resolve_eval_size(None)
        val = evaluate_store(tau_from, EvalProtocol(eval_size=size, **fields), workers=workers)
        taus = Taus.from_scores(val.scores(), source="val")
        report.notes.append(f"val thresholds from {tau_from}")
    try:
        report.read_at(taus)
    except ValueError as exc:
        raise UsageError(f"--tau: {exc}") from None


def _evaluate_checkpoint(
    target: Path,
    split: str,
    checkpoint: str,
    data: Path | None,
    device: str | None,
    protocol: dict[str, object],
    workers: int,
    maps: dict[str, Any],
) -> tuple[EvaluationReport, Path]:
    from wsolkit.engine.rescore import evaluate_checkpoint

    with progress_bar("evaluating") as progress:
        done = evaluate_checkpoint(
            target,
            split=split,
            checkpoint=checkpoint,  # type: ignore[arg-type]
            data=data,
            protocol=protocol,
            device=device,
            eval_workers=workers,
            progress=progress,
            **maps,
        )
    how = "cached CAMs reused" if done.reused else "CAMs exported"
    err_console.print(f"[dim]{done.checkpoint} on {split}: {how} in {done.store}[/]")
    return done.report, done.store


def _evaluate_folder(
    scoremaps: Path, metadata: Path, mask_root: Path | None, protocol: EvalProtocol, workers: int
) -> EvaluationReport:
    from wsolkit.data.metadata import read_split
    from wsolkit.metrics import FolderSource, ScoremapFolder, evaluate_scoremaps

    split = read_split(metadata, require_localization=True)
    if mask_root is None and split.masks is not None:
        mask_root = prepared_mask_root(metadata)
    folder = ScoremapFolder.scan(scoremaps, split.image_ids)
    with progress_bar("evaluating score maps") as progress:
        report = evaluate_scoremaps(
            FolderSource(folder, protocol.eval_size),
            split,
            protocol,
            mask_root=mask_root,
            workers=workers,
            progress=progress,
        )
    if folder.extra:
        examples = ", ".join(folder.extra_examples)
        report.notes.insert(
            0,
            f"ignored {folder.extra} .npy file(s) in {scoremaps} that match no image id "
            f"(e.g. {examples})",
        )
    return report


def prepared_mask_root(metadata: Path) -> Path | None:
    """The mask folder ``dataset.yaml`` records when ``metadata`` is a split of a prepared
    folder (e.g. CUB with ``prepare cub --masks``); ``None`` otherwise (paths then resolve
    against the metadata folder, as before)."""
    from wsolkit.data.source import DataSource
    from wsolkit.data.spec import MANIFEST
    from wsolkit.settings.models import DataSettings

    folder = Path(metadata).parent
    if not (folder / MANIFEST).is_file():
        return None
    return DataSource.from_settings(DataSettings(root=folder)).mask_root  # training's rule


def _evaluate_store(
    cams: Path,
    metadata: Path | None,
    mask_root: Path | None,
    flags: dict[str, tuple[str, object]],
    workers: int,
) -> EvaluationReport:
    from wsolkit.cams import CamStore
    from wsolkit.cams.evaluate import evaluate_store
    from wsolkit.settings.protocol import EvalProtocol

    with CamStore.open(cams) as store:  # a raw store scores at its own size unless told
        size = store.resolve_eval_size(flags["eval_size"][1])  # type: ignore[arg-type]
    protocol = EvalProtocol.from_flags(flags, eval_size=size)
    with progress_bar("evaluating the CAM store") as progress:
        return evaluate_store(
            cams,
            protocol,
            metadata=metadata,
            mask_root=mask_root,
            workers=workers,
            progress=progress,
        )


def _render(report: EvaluationReport, as_json: bool, plot: Path | None, ts_cam: Any = None) -> None:
    if plot is not None:
        from wsolkit.report.metrics import save_figure

        save_figure(report, plot)
        report.notes.append(f"figure saved to {plot}")
    if as_json:
        out = report.to_dict()
        if ts_cam is not None:
            out["ts_cam"] = ts_cam.to_json()
        typer.echo(json.dumps(out, allow_nan=False))
        for note in report.notes:
            err_console.print(f"[dim]note:[/] {note}")
        return
    from wsolkit.report.metrics import report_tables

    for table in report_tables(report):
        out_console.print(table)
    if report.classification is not None:
        top1, top5 = report.classification.accuracy(1), report.classification.accuracy(5)
        out_console.print(f"classification: top-1 {top1:.2f}  top-5 {top5:.2f}")
    if ts_cam is not None:
        out_console.print(
            f"TS-CAM's convention at τ {ts_cam.tau:g} (bilinear, largest contour; not "
            f"MaxBoxAccV2): Top-1 Loc {ts_cam.top1_loc:.2f}  Top-5 Loc {ts_cam.top5_loc:.2f}  "
            f"GT-known Loc {ts_cam.gt_known_loc:.2f}"
        )
    for note in report.notes:
        out_console.print(f"[dim]note:[/] {note}")
