"""A checkpoint never runs code: real pickle payloads under export-cams, --resume and the
best-checkpoint reload are refused, and the file their ``__reduce__`` would create never appears."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_runs import tiny_overrides as overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.engine.api import train
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.checkpoint import load_checkpoint
from wsolkit.errors import DataError

runner = CliRunner()


class Payload:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def poison(checkpoint: Path, marker: Path) -> None:
    """Rewrite a real wsolkit checkpoint with the payload added beside its weights."""
    payload = torch.load(checkpoint, weights_only=True)
    payload["note"] = Payload(marker)
    torch.save(payload, checkpoint)


def test_the_payload_is_real(tmp_path) -> None:
    """Unpickling without the weights-only guard does create the file."""
    marker = tmp_path / "created"
    torch.save({"x": Payload(marker)}, tmp_path / "p.pt")
    torch.load(tmp_path / "p.pt", weights_only=False)
    assert marker.exists()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A tiny synthetic dataset whose val boxes cover whole images: every epoch scores
    MaxBoxAccV2 100 on val, so the best checkpoint stays at epoch 1 (ties keep the earliest)."""
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    root = tmp_path_factory.mktemp("untrusted") / "data"
    prepare_synthetic(root, seed=2, train=24, val=8, test=8, image_size=32, classes=3)
    val = root / "val"
    sizes = [line.split(",") for line in (val / "image_sizes.txt").read_text().splitlines()]
    (val / "localization.txt").write_text(
        "".join(f"{i},0,0,{int(w) - 1},{int(h) - 1}\n" for i, w, h in sizes)
    )
    return root


def one_line_refusal(output: str, path: Path) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert str(path) in output.replace("\n", "") and "NOT loaded" in output


def test_export_cams_of_a_poisoned_checkpoint_file(data, tmp_path) -> None:
    train(overrides=overrides(data, tmp_path, "r"))
    checkpoint = tmp_path / "r" / "checkpoints" / "last.pt"
    marker = tmp_path / "created-by-export"
    poison(checkpoint, marker)
    result = runner.invoke(app, ["export-cams", str(checkpoint)])
    assert result.exit_code == 1
    one_line_refusal(result.output, checkpoint)
    assert not marker.exists()


def test_resume_from_a_poisoned_last_checkpoint(data, tmp_path) -> None:
    train(overrides=overrides(data, tmp_path, "r"))
    run = tmp_path / "r"
    marker = tmp_path / "created-by-resume"
    poison(run / "checkpoints" / "last.pt", marker)
    result = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "2", "-q"])
    assert result.exit_code == 1
    one_line_refusal(result.output, run / "checkpoints" / "last.pt")
    assert not marker.exists()


class PoisonBestAtTheEnd(Callbacks):
    """At the end of the last epoch (best.pt is epoch 1's), replace best.pt with a payload."""

    def __init__(self, run: Path, marker: Path) -> None:
        self.run, self.marker = run, marker

    def on_epoch_end(self, record) -> None:
        if record["epoch"] == 2:
            assert not record.get("is_best"), "the full-image val boxes should tie at 100"
            poison(self.run / "checkpoints" / "best.pt", self.marker)


def test_the_best_checkpoint_reload_refuses_a_poisoned_file(data, tmp_path) -> None:
    marker = tmp_path / "created-by-best-reload"
    run = tmp_path / "r"
    with pytest.raises(DataError, match="NOT loaded"):
        train(
            overrides=overrides(data, tmp_path, "r", **{"optim.epochs": 2}),
            callbacks=PoisonBestAtTheEnd(run, marker),
        )
    assert not marker.exists()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
