"""Mixed precision on the CPU, torch.compile, and their refusals (one line each)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from tiny_runs import tiny_overrides

from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.engine.api import train
from wsolkit.engine.checkpoint import read_checkpoint
from wsolkit.engine.device import check_compile, make_precision
from wsolkit.errors import SettingsError


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("device-speed") / "data"
    prepare_synthetic(root, seed=9, train=24, val=8, test=8, image_size=32, classes=3)
    return root


def losses(run: Path) -> list[dict[str, float]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["train_loss"] for x in lines if json.loads(x)["kind"] == "epoch"]


def test_amp_modes_on_the_cpu() -> None:
    cpu = torch.device("cpu")
    assert make_precision(cpu, "bf16").dtype == torch.bfloat16
    assert make_precision(cpu, "off").dtype is None
    with pytest.raises(SettingsError, match=r"runtime.amp = 'fp16' needs a CUDA device "
                       r"\(running on cpu\); use --amp bf16 \(CPU autocast\) or --amp off"):  # fmt: skip
        make_precision(cpu, "fp16")


def test_bf16_trains_under_autocast_with_float32_losses(data, tmp_path) -> None:
    plain = train(
        overrides=tiny_overrides(data, tmp_path, "fp32", **{"method.name": "aligned-eil"})
    )
    mixed = train(
        overrides=tiny_overrides(
            data, tmp_path, "bf16", **{"method.name": "aligned-eil", "runtime.amp": "bf16"}
        )
    )
    assert plain is not None and mixed is not None
    (a,), (b,) = losses(tmp_path / "fp32"), losses(tmp_path / "bf16")
    assert set(a) == set(b) == {"total", "ce", "drop", "sim", "norm"}
    assert a != b  # autocast did run the forward in bfloat16
    for term in a:  # ... and stayed close: bf16 has 8 bits of mantissa, the losses float32's
        assert math.isfinite(b[term]) and abs(a[term] - b[term]) <= 0.05 * abs(a[term]) + 1e-3
    saved = read_checkpoint(tmp_path / "bf16" / "checkpoints" / "last.pt").model
    assert all(t.dtype == torch.float32 for t in saved.values() if t.is_floating_point())


def test_compile_needs_its_backend(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(SettingsError, match=r"runtime.compile needs a C\+\+ compiler on the CPU "
                       r"\(.*looked for c\+\+, g\+\+, clang\+\+ on PATH\)"):  # fmt: skip
        check_compile(torch.device("cpu"))
    monkeypatch.setenv("CXX", "my-cxx")
    with pytest.raises(SettingsError, match="looked for my-cxx on PATH"):
        check_compile(torch.device("cpu"))


@pytest.mark.slow
def test_a_compiled_model_trains_to_the_same_numbers_and_saves_plain_keys(data, tmp_path) -> None:
    plain = train(overrides=tiny_overrides(data, tmp_path, "eager"))
    compiled = train(
        overrides=tiny_overrides(data, tmp_path, "compiled", **{"runtime.compile": True})
    )
    assert plain is not None and compiled is not None
    (a,), (b,) = losses(tmp_path / "eager"), losses(tmp_path / "compiled")
    assert a.keys() == b.keys()
    for term in a:  # fused kernels round differently: equal to float32 precision, not bits
        assert b[term] == pytest.approx(a[term], rel=1e-4)
    eager = read_checkpoint(tmp_path / "eager" / "checkpoints" / "last.pt").model
    saved = read_checkpoint(tmp_path / "compiled" / "checkpoints" / "last.pt").model
    assert list(saved) == list(eager)  # no "_orig_mod." prefix: loads into any model


@pytest.mark.slow
def test_bf16_reaches_fp32_accuracy_on_the_synthetic_benchmark(tmp_path) -> None:
    """The synthetic recipe of CAM (shortened) in fp32 and in bf16 from the same seed: the
    test top-1 and MaxBoxAccV2 differ by less than the test set's own sampling noise (two
    standard errors of a difference of two proportions over its images)."""
    data = tmp_path / "synthetic"
    prepare_synthetic(data, seed=4, train=1500, val=200, test=500, image_size=64, classes=10)
    scores = {}
    for amp in ("off", "bf16"):
        overrides = {
            "data.root": data,
            "optim.epochs": 8,
            "runtime.device": "cpu",
            "runtime.amp": amp,
            "runtime.out_dir": tmp_path,
            "runtime.run_name": amp,
        }
        summary = train(config="synthetic-tiny-cam", overrides=overrides)
        assert summary is not None
        test = json.loads((tmp_path / amp / "summary.json").read_text())["test"]["best"]
        scores[amp] = {"top1": test["top1"], "v2": test["localization"]["max_box_acc_v2"]}
    for metric in ("top1", "v2"):
        a, b = scores["off"][metric] / 100, scores["bf16"][metric] / 100
        p = (a + b) / 2
        noise = 2 * math.sqrt(2 * p * (1 - p) / 500)
        assert abs(a - b) <= noise, (metric, scores)
    assert scores["off"]["top1"] > 30  # it did learn (10 classes: chance is 10%)
    print(f"fp32 vs bf16 (test, best checkpoint): {scores}")
