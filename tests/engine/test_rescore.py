"""``wsolkit eval RUN_DIR|CHECKPOINT``: one step from a checkpoint to the numbers, equal to the
run's own evaluation, through a cached store that is reused while the checkpoint is the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.engine.api import train
from wsolkit.engine.checkpoint import read_checkpoint, save_checkpoint
from wsolkit.engine.rescore import evaluate_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    root = tmp_path_factory.mktemp("rescore")
    prepare_synthetic(root / "data", seed=4, train=40, val=16, test=24, image_size=32, classes=4)
    summary = train(
        overrides=tiny_overrides(
            root / "data", root / "runs", **{"optim.epochs": 2, "eval.cam_curve_interval": 0.01}
        )
    )
    assert summary is not None and summary.best_epoch is not None
    return root / "runs" / "r"


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_rescored_gives_its_own_test_numbers(run, tmp_path) -> None:
    run = Path(shutil.copytree(run, tmp_path / "r"))
    summary = json.loads((run / "summary.json").read_text())
    for which in ("best", "last"):
        done = evaluate_checkpoint(run, checkpoint=which, device="cpu")
        scores = done.report.scores(curves=True).to_json()
        expected = summary["test"][which]
        for key in ("top1", "top5", "images", "score"):
            assert scores[key] == expected[key], (which, key)
        assert scores["localization"] == expected["localization"], which
        assert scores["mask"]["pxap"] == expected["mask"]["pxap"]
        assert done.store == run / f"eval-test-{which}.h5" and not done.reused
        again = evaluate_checkpoint(run, checkpoint=which, device="cpu")
        assert again.reused and again.report.to_dict() == done.report.to_dict()


def test_the_val_split_gives_the_best_epochs_validation(run, tmp_path) -> None:
    run = Path(shutil.copytree(run, tmp_path / "r"))
    summary = json.loads((run / "summary.json").read_text())
    val = next(
        r["val"]
        for r in records(run)
        if r["kind"] == "epoch" and r["epoch"] == summary["best_epoch"]
    )
    scores = evaluate_checkpoint(run, split="val", device="cpu").report.scores().to_json()
    assert scores["localization"]["max_box_acc"] == val["localization"]["max_box_acc"]
    assert (scores["top1"], scores["score"]) == (val["top1"], val["score"])


def test_a_changed_checkpoint_replaces_the_cached_store(run, tmp_path) -> None:
    run = Path(shutil.copytree(run, tmp_path / "r"))
    first = evaluate_checkpoint(run, checkpoint="last", device="cpu")
    checkpoint = read_checkpoint(run / "checkpoints" / "last.pt")
    for name, tensor in checkpoint.model.items():
        if name.endswith("head.fc.weight"):
            tensor.mul_(-1)  # other weights: other CAMs and predictions
    save_checkpoint(run / "checkpoints" / "last.pt", checkpoint)
    second = evaluate_checkpoint(run, checkpoint="last", device="cpu")
    assert not second.reused and second.store == first.store
    assert second.report.to_dict() != first.report.to_dict()


def test_the_cli_prints_the_table_or_json_and_says_where_the_cams_are(run, tmp_path) -> None:
    run = Path(shutil.copytree(run, tmp_path / "r"))
    result = runner.invoke(app, ["eval", str(run), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert data["max_box_acc_v2"] == summary["test"]["best"]["localization"]["max_box_acc_v2"]
    assert "CAMs exported in" in result.stderr and "eval-test-best.h5" in result.stderr
    table = runner.invoke(app, ["eval", str(run / "checkpoints" / "last.pt"), "--device", "cpu"])
    assert table.exit_code == 0 and "MaxBoxAccV2" in table.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--checkpoint", "worst"], "--checkpoint worst: use best or last"),
        (["--split", "nope"], "--split nope"),
        (["--cams", "x.h5"], "give exactly one of RUN_DIR|CHECKPOINT"),
    ],
)
def test_bad_requests_are_one_line(run, args, words) -> None:
    result = runner.invoke(app, ["eval", str(run), *args, "--device", "cpu"])
    assert result.exit_code != 0 and words in result.output
    assert "Traceback" not in result.output


def test_a_checkpoint_without_a_dataset_needs_data_and_the_right_class_count(run, tmp_path):
    checkpoint = read_checkpoint(run / "checkpoints" / "last.pt")
    data_root = Path(checkpoint.settings["data"]["root"])
    checkpoint.settings["data"]["root"] = None
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, checkpoint)
    result = runner.invoke(app, ["eval", str(bare), "--device", "cpu"])
    assert result.exit_code == 2 and "records no dataset" in result.output
    result = runner.invoke(app, ["eval", str(bare), "--data", str(data_root), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    prepare_synthetic(tmp_path / "five", train=10, val=5, test=5, image_size=32, classes=5)
    other = runner.invoke(app, ["eval", str(bare), "--data", str(tmp_path / "five")])
    assert other.exit_code == 1 and "has 5 classes but" in other.output
