"""``wsolkit compare``: runs and CAM stores side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from wsolkit.cli._app import command_app, err_console, out_console

app = command_app()

EPILOG = """
**Examples**

- `wsolkit compare runs/*` — every run, best and last checkpoints, best value per column in bold.
- `wsolkit compare runs/* --where checkpoint=best --sort max_box_acc_v2 --markdown`
- `wsolkit compare runs/a runs/b --plot curves.png` — BoxAcc vs threshold at IoU 50.
"""


@app.command(epilog=EPILOG)
def compare(
    inputs: list[str] = typer.Argument(..., help="Run directories or CAM stores (globs allowed)."),
    sort: str | None = typer.Option(None, help="Sort by a column, e.g. max_box_acc_v2."),
    where: list[str] = typer.Option([], help="Keep rows with KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print markdown tables."),
    plot: Path | None = typer.Option(None, help="Write BoxAcc-vs-threshold curves (PNG)."),
    gallery: Path | None = typer.Option(
        None, help="Write a PNG grid: one row per image, one column per CAM store."
    ),
    images: int = typer.Option(8, min=1, max=200, help="Rows of the --gallery."),
    ts_cam_tau: float | None = typer.Option(
        None,
        "--ts-cam-tau",
        min=0.0,
        max=1.0,
        help="Add TS-CAM's own Top-1/Top-5/GT-known Loc at this fixed threshold (0.1 CUB, "
        "0.12 ImageNet) as columns, from raw CAM stores or the CAMs `wsolkit eval RUN` cached.",
    ),
) -> None:
    """Compare runs and CAM stores: one table per dataset/split, best value per column marked.

    Inputs that are missing or unreadable are named in a warning and skipped; the exit
    code is then 1 (0 when every input was read).
    """
    from wsolkit.report import compare as cmp

    paths, problems = cmp.expand_inputs(inputs)
    rows: list[cmp.CompareRow] = []
    for path in paths:
        try:
            rows += _read(path)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            problems.append(f"{path}: {exc}")
    for problem in problems:
        err_console.print(f"[yellow]warning:[/] skipped {problem}", highlight=False)
    if ts_cam_tau is not None:
        for note in cmp.add_ts_cam(rows, ts_cam_tau):
            err_console.print(f"[dim]note:[/] {note}", highlight=False)
    rows = cmp.sort_rows(cmp.select(rows, cmp.parse_where(where)), sort)
    if as_json:
        out_console.print_json(cmp.to_json(rows))
    elif as_csv:
        typer.echo(cmp.to_csv(rows), nl=False)
    elif as_markdown:
        typer.echo(cmp.to_markdown(rows), nl=False)
    else:
        from wsolkit.report.tables import compare_tables

        for table in compare_tables(rows):
            out_console.print(table)
        if not rows:
            err_console.print("nothing to compare")
    if plot is not None:
        from wsolkit.report.figures import plot_compare_curves

        plot_compare_curves(rows, plot)
        err_console.print(f"wrote {plot}")
    if gallery is not None:
        _gallery(rows, gallery, images)
        err_console.print(f"wrote {gallery}")
    if problems:
        raise typer.Exit(1)


def _gallery(rows: list, path: Path, images: int) -> None:
    from wsolkit.cams import CamStore
    from wsolkit.cams.evaluate import store_metadata
    from wsolkit.errors import UsageError
    from wsolkit.report.compare import groups, maps_title
    from wsolkit.report.overlays import gallery, write_png

    stores = [r for r in rows if r.source.endswith((".h5", ".hdf5"))]
    if not stores:
        raise UsageError("--gallery needs CAM stores among the inputs (wsolkit export-cams)")
    if len(groups(stores)) > 1:
        raise UsageError("--gallery: the CAM stores hold different datasets or splits")
    with CamStore.open(Path(stores[0].source)) as first:
        meta = store_metadata(first, None)
        root = first.data_source().image_root
    picture = gallery(
        [Path(r.source) for r in stores],
        [maps_title(r) for r in stores],
        root,
        meta,
        images,
        [r.best_threshold_50 if r.best_threshold_50 is not None else 0.5 for r in stores],
    )
    write_png(path, picture)


def _read(path: Path) -> list:
    from wsolkit.report import compare as cmp

    if path.is_dir():
        return cmp.read_run(path)
    return cmp.read_store(path)
