"""``wsolkit prepare``: turn downloaded datasets into the standard metadata format.

The group joins the converters' commands: ``cub``, ``imagenet``, ``openimages`` and
``folder`` (:mod:`wsolkit.cli.prepare_datasets`) and ``synthetic``
(:mod:`wsolkit.cli.prepare_synthetic`). Each calls a converter in
:mod:`wsolkit.data.prepare` and prints the summary table; the metadata and
``dataset.yaml`` are written atomically.
"""

from __future__ import annotations

from wsolkit.cli import prepare_datasets, prepare_synthetic
from wsolkit.cli._app import command_app

app = command_app(
    help="Convert a downloaded dataset into wsolkit's metadata format (train/val/test folders "
    "and dataset.yaml).",
    no_args_is_help=True,
)
app.add_typer(prepare_datasets.app)
app.add_typer(prepare_synthetic.app)
