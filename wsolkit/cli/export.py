"""``wsolkit export-cams``: compute a split's CAMs once into an HDF5 store."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from wsolkit.cli._app import command_app, err_console, out_console

if TYPE_CHECKING:
    from wsolkit.engine.export import ExportOptions

app = command_app()

EPILOG = """
**Examples**

- `wsolkit export-cams runs/my-run` — test split, best checkpoint, → runs/my-run/cams-test-best.h5
- `wsolkit export-cams runs/my-run --split val --checkpoint last --topk 5`
- `wsolkit export-cams runs/my-run --overlays 16 overlays/` — and 16 overlay PNGs
- `wsolkit eval --cams runs/my-run/cams-test-best.h5` — every metric from the store alone.
- `wsolkit export-cams runs/my-run --extractor grad-cam --stage layer3` — post-hoc maps,
  → runs/my-run/cams-test-best-grad-cam-layer3.5.h5 (`wsolkit list extractors`)
- `wsolkit export-cams dawsol-cub.pt --extractor bagcams` — BagCAMs at its default stage
- `wsolkit compare runs/my-run/cams-test-best*.h5 --gallery g.png` — one column per extractor

**Extractors.** `cam` (the default) stores the method's own CAMs. The others compute maps
after training, from one forward pass (and one gradient, where they need it) at a backbone
stage (`--stage`: a stage name such as `layer3.5`, or a group such as `layer3` for its last
block; default: the extractor's): `grad-cam`, `grad-cam++`, `xgrad-cam`, `layer-cam`,
`eigen-cam`, `score-cam` (one forward pass per channel of the stage: hundreds to
thousands per image) and `bagcams`. Their hyperparameters: `--extractor-param KEY=VALUE`.

Run the same command again after an interruption or a full disk: it continues where it
stopped.
"""


@app.command("export-cams", epilog=EPILOG)
def export_cams(
    target: Path = typer.Argument(..., help="A run directory or a checkpoint file."),
    split: str = typer.Option("test", help="Metadata split to export."),
    out: Path | None = typer.Option(
        None, help="Store file (default: cams-SPLIT-CHECKPOINT.h5 in the run directory)."
    ),
    checkpoint: str = typer.Option("best", help="best | last (for a run directory)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="The prepared dataset to read: needed for a checkpoint that records none (e.g. "
        "from wsolkit import-checkpoint); otherwise it replaces the recorded folder.",
    ),
    resolution: str = typer.Option(
        "raw", help="raw: CAMs at feature-map size; full: normalized eval-size score maps."
    ),
    dtype: str | None = typer.Option(None, help="float16 (raw default) | float32."),
    topk: int = typer.Option(0, min=0, max=5, help="Also store the CAMs of the top-k classes."),
    batch_size: int | None = typer.Option(None, min=1, help="Inference batch size."),
    device: str | None = typer.Option(None, help="auto | cpu | cuda | cuda:N."),
    amp: str | None = typer.Option(None, help="off | bf16 | fp16 (CUDA)."),
    workers: int | None = typer.Option(None, min=0, help="DataLoader workers."),
    overwrite: bool = typer.Option(False, help="Replace a store made by another checkpoint."),
    extractor: str = typer.Option(
        "cam",
        "--extractor",
        help="Score-map extractor: cam (the method's own CAMs) or a post-hoc one (grad-cam, "
        "grad-cam++, xgrad-cam, layer-cam, score-cam, eigen-cam, bagcams; `wsolkit list "
        "extractors`).",
    ),
    stage: str | None = typer.Option(
        None,
        "--stage",
        help="Backbone stage the extractor explains (e.g. layer3.5, or layer3 for its last "
        "block; default: the extractor's own, mostly the final feature map).",
    ),
    extractor_param: list[str] = typer.Option(
        [],
        "--extractor-param",
        help="KEY=VALUE hyperparameter of the extractor (repeatable), e.g. "
        "published_pipeline=true for bagcams.",
    ),
    overlays: tuple[int, Path] | None = typer.Option(
        None, help="N DIR: PNG overlays of the first N images (heat map, GT and predicted box)."
    ),
    threshold: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="CAM threshold of the overlays' box (default: the split's best at IoU 50).",
    ),
) -> None:
    """Compute the CAMs of one split from a checkpoint and cache them in one HDF5 store."""
    from wsolkit.cli._bars import progress_bar
    from wsolkit.engine.export import ExportInterrupted, ExportOptions
    from wsolkit.engine.export import export_cams as run_export
    from wsolkit.errors import UsageError

    if overlays is not None and overlays[0] < 1:
        raise UsageError(
            f"--overlays {overlays[0]} {overlays[1]}: the number of overlays must be 1 or more"
        )
    options = ExportOptions.from_flags(
        split=split,
        out=out,
        checkpoint=checkpoint,
        data=data,
        resolution=resolution,
        dtype=dtype,
        topk=topk,
        batch_size=batch_size,
        device=device,
        amp=amp,
        workers=workers,
        overwrite=overwrite,
        extractor=extractor,
        stage=stage,
        extractor_params=parse_params(extractor_param, "--extractor-param"),
    )
    try:
        with progress_bar("export") as progress:
            result = run_export(target, options, progress=progress)
    except ExportInterrupted as exc:
        again = _same_command(target, options, overlays, threshold)
        raise exc.with_command(again) from None
    if result.restarted:
        err_console.print(
            f"[yellow]note:[/] {result.path} was a damaged store of this export "
            f"({result.restarted}); it was started over"
        )
    what = f"resumed at image {result.resumed_from}, " if result.resumed_from else ""
    out_console.print(
        f"wrote {result.path}: {result.images:,} images ({what}{result.written:,} this run, "
        f"{result.images_per_s:.0f} images/s)"
    )
    if overlays is not None:
        count, folder = overlays
        written, used = _overlays(result.path, count, folder, threshold)
        err_console.print(f"wrote {written} overlay(s) to {folder} (box threshold {used:.3f})")


def _same_command(
    target: Path,
    options: ExportOptions,
    overlays: tuple[int, Path] | None,
    threshold: float | None,
) -> str:
    """The command line that continues this export: the options given, without --overwrite."""
    words = ["wsolkit", "export-cams", str(target)]
    given: list[tuple[str, object, object]] = [
        ("--split", options.split, "test"),
        ("--out", options.out, None),
        ("--checkpoint", options.checkpoint, "best"),
        ("--data", options.data, None),
        ("--resolution", options.resolution, "raw"),
        ("--dtype", options.dtype, None),
        ("--topk", options.topk, 0),
        ("--batch-size", options.batch_size, None),
        ("--device", options.device, None),
        ("--amp", options.amp, None),
        ("--workers", options.workers, None),
        ("--threshold", threshold, None),
        ("--extractor", options.extractor, "cam"),
        ("--stage", options.stage, None),
    ]
    for flag, value, default in given:
        if value != default:
            words += [flag, str(value)]
    for key, value in options.extractor_params.items():
        words += ["--extractor-param", f"{key}={json.dumps(value)}"]
    if overlays is not None:
        words += ["--overlays", str(overlays[0]), str(overlays[1])]
    return shlex.join(words)


def parse_params(assignments: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` words into a dict, each value read as YAML (``true``, ``0.5``, ``[1, 2]``)."""
    import yaml

    from wsolkit.errors import UsageError

    params: dict[str, Any] = {}
    for text in assignments:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise UsageError(f"{flag} '{text}': expected KEY=VALUE, e.g. {flag} chunk=64")
        try:
            params[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            params[key.strip()] = raw
    return params


def _overlays(store: Path, count: int, folder: Path, threshold: float | None) -> tuple[int, float]:
    from wsolkit.cams import CamStore
    from wsolkit.cams.evaluate import evaluate_store, store_metadata
    from wsolkit.report.overlays import write_overlays

    with CamStore.open(store) as opened:
        image_root = opened.data_source().image_root
        meta = store_metadata(opened, None)
    if threshold is None:  # the split's best at IoU 50, under the run's own protocol
        report = evaluate_store(store)
        threshold = report.box.best_threshold[50] if report.box else 0.5
    files = write_overlays(store, meta, image_root, folder, count, threshold)
    return len(files), threshold
