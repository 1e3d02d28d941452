"""End-to-end training on a tiny generated synthetic dataset (CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.engine.api import train
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.checkpoint import load_checkpoint
from wsolkit.engine.trainer import Interrupted

runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    out = tmp_path_factory.mktemp("synth") / "data"
    prepare_synthetic(out, seed=0, train=48, val=16, test=16, image_size=32, classes=4)
    return out


def overrides(data: Path, out: Path, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "data.root": data,
        "model.backbone": "tiny",
        "model.weights": "none",
        "optim.epochs": 2,
        "optim.warm_epochs": 1,
        "optim.batch_size": 16,
        "optim.warm_batch_size": 8,
        "optim.lr": 0.01,
        "optim.lr_schedule": "points",
        "optim.lr_decay_points": [2],
        "eval.cam_curve_interval": 0.05,
        "runtime.device": "cpu",
        "runtime.workers": 0,
        "runtime.out_dir": out,
        "runtime.seed": 3,
    }
    base.update(extra)
    return base


class StopAfter(Callbacks):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, record) -> None:
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


@pytest.mark.parametrize("method", ["cam", "aligned-eil"])
def test_two_epochs_equal_one_epoch_then_resume(synth, tmp_path, method) -> None:
    straight = train(
        config=None,
        overrides=overrides(synth, tmp_path, **{"method.name": method, "runtime.run_name": "a"}),
    )
    assert straight is not None and straight.epochs == 2
    with pytest.raises(Interrupted, match="--resume"):
        train(
            overrides=overrides(
                synth, tmp_path, **{"method.name": method, "runtime.run_name": "b"}
            ),
            callbacks=StopAfter(1),
        )
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["epoch"] == 1
    resumed = train(resume=tmp_path / "b", overrides={})
    assert resumed is not None and resumed.epochs == 2
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    epochs = [
        r["epoch"]
        for r in map(json.loads, (tmp_path / "b" / "metrics.jsonl").read_text().splitlines())
        if r["kind"] == "epoch"
    ]
    assert epochs == [1, 2]  # no duplicate record from the interrupted attempt


def test_run_directory_contents(synth, tmp_path) -> None:
    summary = train(
        overrides=overrides(
            synth,
            tmp_path,
            **{"method.name": "cam", "runtime.run_name": "r", "eval.eval_interval": 1},
        )
    )
    run = tmp_path / "r"
    assert (run / "settings.yaml").is_file()
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.pt", "last.pt"}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert epochs[0]["batch_size"] == 8 and epochs[1]["batch_size"] == 16  # warm batch size
    assert set(epochs[0]["train_loss"]) >= {"total"}
    assert epochs[0]["lr"] == pytest.approx([0.01, 0.05])  # classifier group at ×5
    assert epochs[1]["lr"] == pytest.approx([0.002, 0.01])  # decayed at 1-indexed epoch 2
    assert "val" in epochs[0] and "score" in epochs[0]["val"]
    tests = {r["checkpoint"]: r for r in records if r["kind"] == "test"}
    assert set(tests) == {"best", "last"}
    assert summary is not None and json.loads((run / "summary.json").read_text())["epochs"] == 2
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    assert payload["settings"]["model"]["backbone"] == "tiny"


def test_resume_refuses_another_backbone_or_method(synth, tmp_path) -> None:
    with pytest.raises(Interrupted):
        train(
            overrides=overrides(synth, tmp_path, **{"method.name": "cam", "runtime.run_name": "r"}),
            callbacks=StopAfter(1),
        )
    before = (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes()
    result = runner.invoke(
        app, ["train", "--resume", str(tmp_path / "r"), "--method", "aligned-eil"]
    )
    assert result.exit_code != 0
    assert "cannot resume" in result.output and "method.name" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes() == before


def test_bad_input_is_one_line(synth, tmp_path) -> None:
    cases = [
        (["--data", str(tmp_path / "nowhere")], "nowhere"),
        (["--set", "optim.lrr=1"], "Did you mean 'optim.lr'"),
        (
            [
                "--data",
                str(synth),
                "--backbone",
                "tiny",
                "--weights",
                "imagenet",
                "--method",
                "cam",
            ],
            "has no ImageNet weights",
        ),
        (
            [
                "--data",
                str(synth),
                "--backbone",
                "inception_v3",
                "--weights",
                "none",
                "--method",
                "aligned-eil",
            ],
            "needs a linear head",
        ),
        (
            [
                "--data",
                str(synth),
                "--backbone",
                "tiny",
                "--weights",
                "none",
                "--set",
                "data.drop_last=true",
                "--batch-size",
                "4096",
                "--device",
                "cpu",
                "--set",
                "optim.warm_epochs=0",
            ],
            "larger than the 48 training images",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["train", "--out-dir", str(tmp_path / "runs"), *args])
        assert result.exit_code != 0, args
        assert message in result.output, result.output
        assert "Traceback" not in result.output
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_two_processes_with_gloo(synth, tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "wsolkit",
        "train",
        "--nproc",
        "2",
        "--data",
        str(synth),
        "--backbone",
        "tiny",
        "--method",
        "aligned-eil",
        "--weights",
        "none",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--out-dir",
        str(tmp_path),
        "--run-name",
        "ddp",
        "--set",
        "optim.warm_epochs=0",
        "--set",
        "eval.cam_curve_interval=0.05",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["test"]["last"]["images"] == 16  # every test image once, no padding
    records = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert sum(json.loads(r)["kind"] == "epoch" for r in records) == 1  # rank 0 writes alone
    # The test split evaluated in two shards must equal the same checkpoint evaluated in one
    # process (every rank evaluates rank 0's model, BatchNorm statistics included).
    from wsolkit.cams.evaluate import evaluate_store
    from wsolkit.engine.export import ExportOptions, export_cams

    store = export_cams(
        tmp_path / "ddp",
        ExportOptions(out=tmp_path / "last.h5", checkpoint="last", dtype="float32", workers=0),
    ).path
    single = evaluate_store(store).scores().to_json()
    sharded = summary["test"]["last"]
    assert sharded["localization"]["max_box_acc"] == single["localization"]["max_box_acc"]
    assert sharded["mask"]["pxap"] == single["mask"]["pxap"]
    assert (sharded["top1"], sharded["top5"]) == (single["top1"], single["top5"])
    # The val thresholds the two ranks found equal those of one process on the same model.
    from wsolkit.metrics.scores import Taus

    val_store = export_cams(
        tmp_path / "ddp",
        ExportOptions(
            split="val", out=tmp_path / "val.h5", checkpoint="last", dtype="float32", workers=0
        ),
    ).path
    one_process = Taus.from_scores(evaluate_store(val_store).scores(), "val")
    (epoch,) = [json.loads(r) for r in records if json.loads(r)["kind"] == "epoch"]
    assert epoch["val_tau"] == one_process.model_dump(mode="json")


def test_native_size_dataset_trains_at_its_generated_size(tmp_path) -> None:
    from wsolkit.data.prepare.synthetic import prepare_synthetic
    from wsolkit.engine.setup import resolve_settings

    prepare_synthetic(tmp_path / "d", train=8, val=4, test=4, image_size=48, classes=4)
    s = resolve_settings(None, {"data.root": tmp_path / "d", "model.backbone": "tiny"})
    assert (s.data.resize_size, s.data.crop_size, s.data.eval_size) == (48, 48, 48)
    s = resolve_settings(None, {"data.root": tmp_path / "d", "data.crop_size": 40})
    assert (s.data.resize_size, s.data.crop_size, s.data.eval_size) == (48, 40, 48)


@pytest.mark.parametrize(("after_decay", "validated"), [(False, [3, 4]), (True, [2, 3, 4])])
def test_validation_every_epoch_after_the_first_decay(synth, tmp_path, after_decay, validated):
    """bridging-gap validates every eval_interval epochs and every epoch from the first
    decay point on; wsolkit offers the rule (and always validates the last epoch)."""
    settings = overrides(
        synth,
        tmp_path,
        **{
            "method.name": "cam",
            "optim.epochs": 4,
            "optim.warm_epochs": 0,
            "optim.lr_decay_points": [2],
            "eval.eval_interval": 3,
            "eval.every_epoch_after_first_decay": after_decay,
            "runtime.run_name": "v",
        },
    )
    train(overrides=settings)
    lines = (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()
    epochs = [r["epoch"] for r in map(json.loads, lines) if r["kind"] == "epoch" and "val" in r]
    assert epochs == validated
