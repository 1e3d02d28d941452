"""The GPU path: a training step of every backbone × method in fp32/bf16/fp16 with
channels-last, the uint8 batches normalized on the device, train → resume → export-cams →
eval on CUDA, a one-process NCCL DDP run, and torch.compile on CUDA.

Skipped without CUDA (see conftest.py); ``tests/gpu/run_checks.sh`` runs them with the
GPU benchmarks in one go.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine.build import build_model, build_optimizer
from wsolkit.engine.device import float32_outputs, make_precision
from wsolkit.methods.base import IncompatibleBackboneError
from wsolkit.settings import load_settings

runner = CliRunner()
BACKBONES = ("vgg16", "resnet50", "inception_v3")
METHODS = ("cam", "has", "cutmix", "adl", "eil", "aligned-eil", "acol", "spg")
AMPS = ("off", "bf16", "fp16")


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("method", METHODS)
def test_a_training_step_of_every_backbone_and_method_in_each_precision(backbone, method) -> None:
    device = torch.device("cuda")
    for amp in AMPS:
        overrides = {
            "model.backbone": backbone,
            "model.weights": "none",
            "method.name": method,
            "runtime.amp": amp,
        }
        settings = load_settings(overrides=overrides)
        torch.manual_seed(0)
        try:
            built = build_model(settings, 10)
        except IncompatibleBackboneError as exc:  # refused alike in every precision
            assert backbone in str(exc)
            return
        model = built.model.to(device).to(memory_format=torch.channels_last).train()
        optimizer = build_optimizer(settings, built)
        precision = make_precision(device, amp)
        scaler = precision.grad_scaler()
        normalize = BatchNormalize.from_settings(settings.data)
        raw = torch.randint(0, 256, (4, 3, 224, 224), dtype=torch.uint8, device=device)
        images = normalize(raw).contiguous(memory_format=torch.channels_last)
        labels = torch.randint(0, 10, (4,), device=device)
        images, targets = built.method.prepare_batch(images, labels)
        before = [p.detach().clone() for p in model.parameters()]
        with precision.autocast():
            outputs = model(images, targets.labels) if model.takes_labels else model(images)
        outputs = float32_outputs(outputs)
        losses = built.method.losses(outputs, targets, epoch=100, warm_epochs=0)
        assert all(v.dtype == torch.float32 for v in losses.values()), (amp, losses)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        assert math.isfinite(float(losses["total"].detach())), (backbone, method, amp)
        moved = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
        assert moved > 0, (backbone, method, amp)
        model.eval()
        with torch.no_grad(), precision.autocast():
            logits, cams, _ = built.method.cams(model, images[:2], labels[:2])
        assert torch.isfinite(logits.float()).all() and torch.isfinite(cams.float()).all()


def test_batch_normalize_on_cuda_equals_the_cpu_bit_for_bit() -> None:
    normalize = BatchNormalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    raw = torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8)
    assert torch.equal(normalize(raw.cuda()).cpu(), normalize(raw))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gpu") / "data"
    prepare_synthetic(root, seed=3, train=64, val=24, test=24, image_size=64, classes=4)
    return root


def _train(data: Path, out: Path, name: str, *extra: str) -> None:
    args = [
        "train", "--data", str(data), "--backbone", "resnet50", "--weights", "none",
        "--method", "aligned-eil", "--device", "cuda", "--batch-size", "16", "--workers", "2",
        "--out-dir", str(out), "--run-name", name, "--set", "optim.warm_epochs=0",
        "--set", "eval.cam_curve_interval=0.05", "--quiet", *extra,
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def test_train_resume_export_and_eval_on_cuda(data, tmp_path) -> None:
    _train(data, tmp_path, "r", "--epochs", "1", "--amp", "bf16")
    _train(data, tmp_path, "r", "--epochs", "2", "--amp", "bf16", "--resume", str(tmp_path / "r"))
    records = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]
    cams = {}
    for device in ("cuda", "cpu"):
        out = tmp_path / f"cams-{device}.h5"
        result = runner.invoke(
            app,
            ["export-cams", str(tmp_path / "r"), "--device", device, "--dtype", "float32",
             "--out", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        cams[device] = _datasets(out)
    assert cams["cuda"].keys() == cams["cpu"].keys()
    for key, value in cams["cpu"].items():  # the same model on two devices
        if value.dtype.kind == "f":  # (top-5 columns past the class count are NaN in both)
            np.testing.assert_allclose(cams["cuda"][key], value, atol=1e-3, err_msg=key)
        else:
            assert np.array_equal(cams["cuda"][key], value), key
    result = runner.invoke(app, ["eval", "--cams", str(tmp_path / "cams-cuda.h5"), "--json"])
    assert result.exit_code == 0, result.output


def _datasets(path: Path) -> dict:
    import h5py

    found: dict = {}
    with h5py.File(path, "r") as fh:
        fh.visititems(
            lambda name, obj: (
                found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return found


def test_one_process_nccl_ddp_run(data, tmp_path) -> None:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
        "-m", "wsolkit", "train", "--data", str(data), "--backbone", "vgg16", "--weights", "none",
        "--method", "cam", "--device", "cuda", "--epochs", "1", "--batch-size", "16",
        "--out-dir", str(tmp_path), "--run-name", "ddp", "--quiet",
        "--set", "optim.warm_epochs=0", "--set", "eval.cam_curve_interval=0.05",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSOLKIT_")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["test"], summary


def test_compile_on_cuda(data, tmp_path) -> None:
    _train(data, tmp_path, "c", "--epochs", "1", "--compile", "--amp", "bf16")
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["test"]["last"]["images"] == 24 and math.isfinite(
        summary["test"]["last"]["score"]
    )
