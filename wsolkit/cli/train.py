"""``wsolkit train``: parse flags into settings, run the engine, render progress and results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from wsolkit.cli._app import command_app, err_console, out_console
from wsolkit.errors import UsageError

app = command_app()

EPILOG = """
**Examples**

- `wsolkit train` — the embedded synthetic benchmark: tiny network, aligned EIL, CPU, minutes.
- `wsolkit train --method cam` — the same with vanilla CAM.
- `wsolkit train --config cub-vgg16-aligned-eil --data ~/data/CUB_200_2011/wsolkit` — the
  published CUB recipe (a shipped recipe name or a YAML path).
- `wsolkit train --config my.yaml --set optim.lr=0.01 --set method.lambda_drop=2`
- `wsolkit train --logger tensorboard --logger mlflow` — also feed TensorBoard and MLflow
  (`pip install 'wsolkit[tensorboard,mlflow]'`).
- `wsolkit train --resume runs/cub-vgg16-aligned-eil-20261125-101500` — continue a run.
- `torchrun --nproc-per-node 4 -m wsolkit train --config …`, or `wsolkit train --nproc 4 …`.

Precedence: flag / --set > WSOLKIT_SECTION__KEY environment > --config YAML > defaults.
"""


@app.command(epilog=EPILOG)
def train(
    config: str | None = typer.Option(
        None, "--config", "-c", help="Recipe: a YAML file or a shipped recipe name (configs/)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Prepared dataset folder (wsolkit prepare) [data.root]."
    ),
    dataset: str | None = typer.Option(None, help="Registered dataset [data.dataset]."),
    backbone: str | None = typer.Option(None, help="Registered backbone [model.backbone]."),
    method: str | None = typer.Option(None, help="Registered method [method.name]."),
    weights: str | None = typer.Option(
        None,
        help="imagenet | none | synthetic-pretrained (tiny's shipped trunk) | PATH to a "
        "torchvision state dict [model.weights].",
    ),
    epochs: int | None = typer.Option(None, help="[optim.epochs]"),
    batch_size: int | None = typer.Option(None, help="Per-process batch size [optim.batch_size]."),
    lr: float | None = typer.Option(None, help="Base learning rate [optim.lr]."),
    device: str | None = typer.Option(None, help="auto | cpu | cuda | cuda:N [runtime.device]."),
    amp: str | None = typer.Option(
        None,
        help="off | bf16 (CUDA or CPU) | fp16 (CUDA); the loss terms stay float32 [runtime.amp].",
    ),
    compile_model: bool = typer.Option(
        False,
        "--compile",
        help="torch.compile the model (the first steps are slower while it compiles) "
        "[runtime.compile].",
    ),
    seed: int | None = typer.Option(None, help="[runtime.seed]"),
    workers: int | None = typer.Option(
        None,
        help="DataLoader workers per process (default: the cores available to each process, "
        "at most 8) [runtime.workers].",
    ),
    resize_cache: bool = typer.Option(
        False,
        "--resize-cache",
        help="Decode and resize the training images once into a memory-mapped file in the "
        "cache folder; later epochs and runs only crop and flip [data.resize_cache].",
    ),
    loggers: list[str] = typer.Option(
        [],
        "--logger",
        help="Also feed this run tracker: tensorboard | mlflow | a plugin's name (repeatable; "
        "see docs/loggers.md) [runtime.loggers].",
    ),
    skip_bad_images: bool = typer.Option(
        False,
        "--skip-bad-images",
        help="Leave out images that are missing or unreadable (found before the first epoch, "
        "counted in the summary) instead of stopping [data.skip_bad_images].",
    ),
    out_dir: Path | None = typer.Option(None, help="Where run directories go [runtime.out_dir]."),
    run_name: str | None = typer.Option(None, help="Run directory name [runtime.run_name]."),
    assignments: list[str] = typer.Option(
        [], "--set", help="Any setting as SECTION.KEY=VALUE (repeatable), e.g. optim.lr=0.01."
    ),
    resume: Path | None = typer.Option(
        None, help="Continue the run in this directory from its last completed epoch."
    ),
    nproc: int = typer.Option(
        1, min=1, help="Processes (GPUs) to launch through torchrun on this machine."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Logs only, no progress bars."),
) -> None:
    """Train a WSOL model and evaluate it (val during training, test at the end)."""
    if nproc > 1:
        _launch(nproc)
        return
    from wsolkit.settings import parse_assignment

    overrides: dict[str, object] = {
        "data.root": data,
        "data.dataset": dataset,
        "model.backbone": backbone,
        "method.name": method,
        "model.weights": weights,
        "optim.epochs": epochs,
        "optim.batch_size": batch_size,
        "optim.lr": lr,
        "runtime.device": device,
        "runtime.amp": amp,
        "runtime.compile": True if compile_model else None,
        "runtime.seed": seed,
        "runtime.workers": workers,
        "runtime.loggers": loggers or None,
        "runtime.out_dir": out_dir,
        "runtime.run_name": run_name,
        "runtime.quiet": True if quiet else None,
        "data.skip_bad_images": True if skip_bad_images else None,
        "data.resize_cache": True if resize_cache else None,
    }
    overrides.update(parse_assignment(a) for a in assignments)

    from wsolkit.cli._progress import TrainProgress
    from wsolkit.engine.api import train as run_training

    with TrainProgress(quiet=quiet) as progress:
        summary = run_training(
            config=config, overrides=overrides, resume=resume, callbacks=progress
        )
    if summary is not None:  # rank 0
        from wsolkit.report.training import summary_table

        out_console.print(summary_table(summary))


def _launch(nproc: int) -> None:
    """Re-run this command under torchrun with ``nproc`` processes."""
    from wsolkit.engine.distributed import launch_command

    if "RANK" in os.environ:
        raise UsageError(
            "--nproc cannot be used inside torchrun; drop it (torchrun sets the ranks)"
        )
    argv = _argv_without_nproc(sys.argv[1:])
    command = launch_command(nproc, argv)
    err_console.print(f"[dim]launching: {' '.join(command)}[/]")
    code = subprocess.call(command)
    raise typer.Exit(code)


def _argv_without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out
