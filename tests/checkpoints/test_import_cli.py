"""``wsolkit import-checkpoint`` end to end: a wsolevaluation file in, a wsolkit checkpoint
out, which ``eval`` scores on a prepared dataset; every refusal is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from checkpoint_references import ReferenceVgg, randomize
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.engine.checkpoint import read_checkpoint
from wsolkit.registry import backbones, methods

runner = CliRunner()
K = 3


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    root = tmp_path_factory.mktemp("import") / "data"
    prepare_synthetic(root, seed=6, train=6, val=6, test=9, image_size=32, classes=K)
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """wsolevaluation's VGG16-CAM (14×14) with random weights, saved as its main.py does."""
    net = ReferenceVgg("cam", large_feature_map=False, num_classes=K)
    randomize(net, torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("ref") / "last_checkpoint.pth.tar"
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01).state_dict()
    torch.save(
        {"architecture": "vgg16", "epoch": 7, "state_dict": net.state_dict(),
         "optimizer": optimizer},
        path,
    )  # fmt: skip
    return path, net.eval()


def one_line(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_import_then_eval_on_a_prepared_dataset(reference, data, tmp_path) -> None:
    src, net = reference
    out = tmp_path / "cam.pt"
    args = ["import-checkpoint", str(src), "--backbone", "vgg16", "--method", "cam"]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["format"], summary["num_classes"]) == ("wsolevaluation", K)
    assert "architecture" in summary["detected"] or "state_dict" in summary["detected"]
    checkpoint = read_checkpoint(out)
    provenance = checkpoint.imported_from
    assert provenance is not None and provenance["format"] == "wsolevaluation"
    assert len(provenance["sha256"]) == 64 and provenance["records"]["epoch"] == 7
    assert checkpoint.epoch == 7 and checkpoint.settings["data"]["root"] is None
    model = methods.create("cam").build(backbones.create("vgg16", num_classes=K, weights="none"))
    model.load_state_dict(checkpoint.model)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference_logits, _ = net(images, torch.zeros(2, dtype=torch.long))
        assert torch.equal(model.eval()(images)["logits"], reference_logits)
    scored = runner.invoke(
        app, ["eval", str(out), "--data", str(data), "--json", "--device", "cpu"]
    )
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["images"] == 9
    bare = runner.invoke(app, ["eval", str(out), "--device", "cpu"])
    assert "records no dataset" in one_line(bare, code=2)


def test_data_is_recorded_and_checked(reference, data, tmp_path) -> None:
    src, _ = reference
    out = tmp_path / "cam.pt"
    args = ["import-checkpoint", str(src), "--backbone", "vgg16", "--method", "cam"]
    result = runner.invoke(app, [*args, "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_checkpoint(out).dataset.class_names == [f"class{i}" for i in range(K)]
    assert runner.invoke(app, ["eval", str(out), "--json", "--device", "cpu"]).exit_code == 0
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    prepare_synthetic(tmp_path / "four", train=4, val=4, test=4, image_size=32, classes=4)
    other = tmp_path / "other.pt"
    refused = runner.invoke(app, [*args, "--data", str(tmp_path / "four"), "--out", str(other)])
    assert "has 4 classes but the weights classify 3" in one_line(refused)
    assert not other.exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--method", "adl"], "--from wsolevaluation"),  # a CAM network's keys, asked as ADL
        (["--num-classes", "200"], "200"),
        (["--from", "da-wsol"], "da-wsol"),
        (["--from", "caffe"], "--from caffe: use auto or one of"),
    ],
)
def test_mismatches_are_one_line_and_write_nothing(reference, tmp_path, extra, words) -> None:
    src, _ = reference
    out = tmp_path / "x.pt"
    base = ["import-checkpoint", str(src), "--backbone", "vgg16", "--method", "cam"]
    args = [*base, *extra, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and words in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_files_that_are_not_checkpoints_or_carry_code(tmp_path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file at all")
    args = ["--backbone", "vgg16", "--method", "cam", "--out", str(tmp_path / "o.pt")]
    assert "cannot be read" in one_line(runner.invoke(app, ["import-checkpoint", str(junk), *args]))
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    poisoned = tmp_path / "poisoned.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "note": Payload()}, poisoned)
    line = one_line(runner.invoke(app, ["import-checkpoint", str(poisoned), *args]))
    assert "NOT loaded" in line and not marker.exists()
    assert not (tmp_path / "o.pt").exists()


def test_an_existing_out_needs_overwrite(reference, tmp_path) -> None:
    src, _ = reference
    out = tmp_path / "cam.pt"
    out.write_bytes(b"keep me")
    args = ["import-checkpoint", str(src), "--backbone", "vgg16", "--method", "cam"]
    assert "--overwrite" in one_line(runner.invoke(app, [*args, "--out", str(out)]), code=2)
    assert out.read_bytes() == b"keep me"
    assert runner.invoke(app, [*args, "--out", str(out), "--overwrite"]).exit_code == 0
