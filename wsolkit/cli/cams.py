"""``wsolkit cams``: inspect CAM stores and convert wsolevaluation score-map folders.

The commands call :mod:`wsolkit.cams` and render its result objects; h5py and
OpenCV are imported inside the commands so ``wsolkit --help`` stays fast.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from wsolkit.cli._app import command_app, out_console
from wsolkit.cli._bars import progress_bar

app = command_app(
    help="Inspect CAM stores (the HDF5 files of `wsolkit export-cams`) and convert them to and "
    "from wsolevaluation score-map folders (one .npy per image).",
    no_args_is_help=True,
)


class MapDtype(str, Enum):
    auto = "auto"
    float32 = "float32"
    float64 = "float64"


class NpyLayout(str, Enum):
    with_ext = "with-ext"
    without_ext = "without-ext"


@app.command("import-scoremaps")
def import_scoremaps(
    directory: Path = typer.Argument(
        ..., help="Score-map folder: DIR/<image_id>.npy or DIR/<image_id minus extension>.npy."
    ),
    metadata: Path = typer.Option(
        ..., "--metadata", help="Metadata split folder (image_ids.txt, class_labels.txt, ...)."
    ),
    out: Path = typer.Option(..., "--out", help="The CAM store to write (FILE.h5)."),
    dtype: MapDtype = typer.Option(
        MapDtype.auto,
        "--dtype",
        help="auto keeps the widest float type found (exact values); float32 halves a "
        "float64 folder's size and rounds its values.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace OUT instead of resuming it or refusing it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Turn a wsolevaluation score-map folder into a CAM store of full score maps.

    Image order and labels come from the metadata; every map must be 2-D, S×S,
    free of NaN and within [0, 1]. An interrupted import continues when run again.

    Example: `wsolkit cams import-scoremaps logs/run/scoremaps --metadata metadata/CUB/test
    --out cub-test.h5`
    """
    from wsolkit.cams.npy import import_scoremaps as run_import

    with progress_bar("importing score maps") as progress:
        result = run_import(
            directory, metadata, out, dtype=dtype.value, overwrite=overwrite, progress=progress
        )
    data = {
        "store": str(result.store),
        "rows": result.rows,
        "imported": result.imported,
        "resumed_from": result.resumed_from,
        "map_shape": list(result.map_shape),
        "dtype": result.dtype,
        "ignored_files": result.ignored,
    }
    if as_json:
        out_console.print_json(json.dumps(data))
        return
    resumed = f" (resumed at row {result.resumed_from})" if result.resumed_from else ""
    h, w = result.map_shape
    out_console.print(
        f"wrote {result.imported} score maps ({h}x{w} {result.dtype}) to {result.store}"
        f"{resumed}; {result.rows} rows in all"
    )
    if result.ignored:
        out_console.print(f"[dim]note:[/] {result.ignored} .npy file(s) of no listed image ignored")


@app.command("export-npy")
def export_npy(
    store: Path = typer.Argument(..., help="The CAM store (FILE.h5)."),
    out_dir: Path = typer.Argument(..., help="Folder to write one .npy per image into."),
    layout: NpyLayout = typer.Option(
        NpyLayout.with_ext,
        "--layout",
        help="with-ext: OUT_DIR/<image_id>.npy (what wsolevaluation reads); without-ext: "
        "OUT_DIR/<image_id minus extension>.npy.",
    ),
    eval_size: int | None = typer.Option(
        None, "--eval-size", min=1, help="Score-map size S for raw CAMs (default: the store's)."
    ),
    allow_incomplete: bool = typer.Option(
        False, "--allow-incomplete", help="Export the finished rows of an unfinished store."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write a store's score maps as float64 S×S .npy files, each atomically.

    Raw CAMs are normalized exactly as wsolevaluation does (bicubic resize to S×S,
    min-max); full score maps are written as they are.

    Example: `wsolkit cams export-npy cub-test.h5 scoremaps/ --layout with-ext`
    """
    from wsolkit.cams.npy import export_npy as run_export

    with progress_bar("writing .npy files", unit="files") as progress:
        result = run_export(
            store,
            out_dir,
            layout=layout.value,  # type: ignore[arg-type]
            eval_size=eval_size,
            allow_incomplete=allow_incomplete,
            progress=progress,
        )
    data = {
        "out_dir": str(result.out_dir),
        "layout": result.layout,
        "files": result.files,
        "eval_size": result.eval_size,
        "complete": result.complete,
    }
    if as_json:
        out_console.print_json(json.dumps(data))
        return
    size = result.eval_size
    note = "" if result.complete else " [yellow](the store is incomplete)[/]"
    out_console.print(
        f"wrote {result.files} score maps ({size}x{size} float64, {result.layout}) to "
        f"{result.out_dir}{note}"
    )


@app.command("info")
def info(
    store: Path = typer.Argument(..., help="The CAM store (FILE.h5)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show a store's rows, layout, size and provenance.

    Example: `wsolkit cams info cub-test.h5 --json`
    """
    from wsolkit.cams import CamStore

    with CamStore.open(store) as opened:
        data = _describe(opened)
    if as_json:
        out_console.print_json(json.dumps(data, default=str))
        return
    from rich.table import Table

    table = Table(title=str(store), show_header=False, title_justify="left")
    table.add_column("fact", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        text = str(value)
        if len(text) > 160:
            text = f"{text[:150]}… ({len(text)} characters; --json shows all)"
        table.add_row(key, text)
    out_console.print(table)


def _describe(store: Any) -> dict[str, Any]:
    """The facts ``info`` shows, as JSON-ready data."""
    from dataclasses import asdict

    layout = store.layout
    rows = max(len(store), 1)
    data: dict[str, Any] = {
        "format": store.format,
        "rows_done": store.rows_done,
        "rows_total": store.total,
        "complete": store.complete,
        "resolution": layout.resolution,
        "map_shape": list(layout.map_shape),
        "dtype": layout.dtype.name,
        "topk": layout.topk,
        "has_predictions": layout.predictions,
        "file_bytes": store.file_size,
        "bytes_per_image": round(store.file_size / rows, 1),
    }
    provenance = asdict(store.provenance)
    data.update({k: v for k, v in provenance.items() if k != "extra"})
    data["extra"] = provenance["extra"]
    return data
