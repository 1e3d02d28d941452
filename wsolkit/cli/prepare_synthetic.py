"""``wsolkit prepare synthetic``: generate the embedded synthetic benchmark."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from wsolkit.cli._app import command_app, out_console
from wsolkit.cli._bars import progress_bar
from wsolkit.cli._summary import show_summary

app = command_app()

if TYPE_CHECKING:
    from wsolkit.data.spec import PrepareSummary


@app.command("synthetic")
def synthetic(
    out_dir: Path = typer.Argument(
        ..., help="Folder to write the dataset into (created; must be empty unless --overwrite)."
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Data seed d; the splits use RNG seeds 1000d+1, +2, +3."
    ),
    train: int = typer.Option(4000, "--train", min=1, help="Training images."),
    val: int = typer.Option(500, "--val", min=1, help="Validation images (train-fullsup)."),
    test: int = typer.Option(1000, "--test", min=1, help="Test images."),
    image_size: int = typer.Option(
        64, "--image-size", min=32, max=1024, help="Image side in pixels (square images)."
    ),
    classes: int = typer.Option(10, "--classes", min=2, max=100, help="Number of classes K."),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace a dataset already in OUT_DIR (its images, masks, parts, split folders, "
        "params.json and dataset.yaml are deleted first; other files are kept).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as JSON instead of a table."
    ),
) -> None:
    """Generate the synthetic WSOL benchmark: boxes, object masks and part masks.

    Each image holds one object: a striped elliptical body, the same for every class
    but for a weak hint in its hue, and a small saturated head (about 6% of the
    object) whose hue decides the class, over a smooth background with
    low-saturation distractors. A plain CAM tends to light up the head only. The
    same options always give the same bytes. If it stops half-way (Ctrl-C, a full
    disk), run the same command again: it starts the unfinished folder over.

    Example: `wsolkit prepare synthetic data/synthetic --seed 1`
    """
    from wsolkit.data.prepare.synthetic import SyntheticInterrupted

    options = {"--seed": seed, "--train": train, "--val": val, "--test": test}
    options |= {"--image-size": image_size, "--classes": classes}
    started = time.perf_counter()
    try:
        summary = _generate(out_dir, options, overwrite)
    except KeyboardInterrupt:
        again = _same_command(out_dir, options, overwrite, as_json)
        raise SyntheticInterrupted(out_dir, again) from None
    show_summary(summary, as_json=as_json)
    if as_json:
        return
    images = sum(split.images for split in summary.splits.values())
    out_console.print(
        f"[green]prepared[/] {summary.out_dir} (use it as data.root): {images:,} images in "
        f"{time.perf_counter() - started:.1f} s"
    )


_DEFAULTS = {
    "--seed": 0,
    "--train": 4000,
    "--val": 500,
    "--test": 1000,
    "--image-size": 64,
    "--classes": 10,
}


def _generate(out_dir: Path, options: dict[str, int], overwrite: bool) -> PrepareSummary:
    """Run the generator under a progress bar; ``options`` maps flags to values."""
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    with progress_bar("generating images") as progress:
        return prepare_synthetic(
            out_dir,
            seed=options["--seed"],
            train=options["--train"],
            val=options["--val"],
            test=options["--test"],
            image_size=options["--image-size"],
            classes=options["--classes"],
            progress=progress,
            overwrite=overwrite,
        )


def _same_command(out_dir: Path, options: dict[str, int], overwrite: bool, as_json: bool) -> str:
    """The command line given (options at their defaults left out)."""
    words = ["wsolkit", "prepare", "synthetic", str(out_dir)]
    for flag, value in options.items():
        if value != _DEFAULTS[flag]:
            words += [flag, str(value)]
    words += ["--overwrite"] * overwrite + ["--json"] * as_json
    return shlex.join(words)
