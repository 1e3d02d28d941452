"""The optimizers: SGD as the CNN recipes use it, AdamW with timm's weight-decay exemptions,
and the drop-path setting."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_runs import tiny_overrides

from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.engine.api import train
from wsolkit.engine.build import build_model, build_optimizer
from wsolkit.errors import UsageError
from wsolkit.settings import load_settings

TINY = {"model.backbone": "tiny", "model.weights": "none", "method.name": "cam"}


def _groups(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, list[str]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {g["name"]: [names[id(p)] for p in g["params"]] for g in optimizer.param_groups}


def test_sgd_keeps_two_groups_with_weight_decay_everywhere() -> None:
    settings = load_settings(overrides={**TINY, "optim.lr_classifier_ratio": 10})
    built = build_model(settings, 5)
    optimizer = build_optimizer(settings, built)
    assert isinstance(optimizer, torch.optim.SGD)
    assert [g["name"] for g in optimizer.param_groups] == ["pretrained", "new"]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [5e-4, 5e-4]
    assert [g["lr"] for g in optimizer.param_groups] == [0.004, pytest.approx(0.04)]


def test_adamw_exempts_biases_norms_and_the_backbone_s_listed_names(monkeypatch) -> None:
    overrides = {
        **TINY,
        "optim.optimizer": "adamw",
        "optim.lr": 5e-5,
        "optim.lr_classifier_ratio": 10,
        "optim.weight_decay": 0.05,
        "optim.betas": (0.8, 0.99),
        "optim.eps": 1e-7,
    }
    settings = load_settings(overrides=overrides)
    built = build_model(settings, 5)
    # as a transformer lists pos_embed / cls_token: names relative to the backbone
    monkeypatch.setattr(
        built.backbone, "no_weight_decay", lambda: {"conv2.0.weight"}, raising=False
    )
    optimizer = build_optimizer(settings, built)
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = _groups(optimizer, built.model)
    assert list(groups) == ["pretrained", "pretrained_no_decay", "new", "new_no_decay"]
    params = dict(built.model.named_parameters())
    for name in groups["pretrained"] + groups["new"]:
        assert params[name].ndim > 1 and name != "backbone.conv2.0.weight"
    for name in groups["pretrained_no_decay"] + groups["new_no_decay"]:
        assert params[name].ndim <= 1 or name == "backbone.conv2.0.weight"
    assert "backbone.conv2.0.weight" in groups["pretrained_no_decay"]
    assert "backbone.head.fc.bias" in groups["new_no_decay"]
    every = sorted(n for names in groups.values() for n in names)
    assert every == sorted(params)  # each parameter in exactly one group
    decay = [g["weight_decay"] for g in optimizer.param_groups]
    assert decay == [0.05, 0.0, 0.05, 0.0]
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs == pytest.approx([5e-5, 5e-5, 5e-4, 5e-4])
    assert optimizer.defaults["betas"] == (0.8, 0.99) and optimizer.defaults["eps"] == 1e-7


def test_drop_path_is_refused_for_a_backbone_without_it() -> None:
    settings = load_settings(overrides={**TINY, "model.drop_path_rate": 0.1})
    with pytest.raises(UsageError, match=r"model.drop_path_rate = 0.1: backbone 'tiny' has no "
                       r"stochastic depth \(drop path\); set it to 0"):  # fmt: skip
        build_model(settings, 5)


def test_a_run_with_adamw_and_a_cosine_warm_up_records_each_group_s_rate(tmp_path) -> None:
    data = tmp_path / "data"
    prepare_synthetic(data, seed=2, train=16, val=8, test=8, image_size=32, classes=3)
    overrides = tiny_overrides(
        data, tmp_path, "adamw",
        **{"optim.optimizer": "adamw", "optim.lr": 1e-3, "optim.lr_classifier_ratio": 1,
           "optim.weight_decay": 0.05, "optim.lr_schedule": "cosine", "optim.epochs": 3,
           "optim.lr_warmup_epochs": 1, "optim.lr_warmup_init": 1e-6, "optim.min_lr": 1e-5},
    )  # fmt: skip
    assert train(overrides=overrides) is not None
    lines = (tmp_path / "adamw" / "metrics.jsonl").read_text().splitlines()
    lrs = [json.loads(x)["lr"] for x in lines if json.loads(x)["kind"] == "epoch"]
    assert lrs[0] == [1e-6] * 4  # the warm-up's first epoch, every group
    assert lrs[1] == pytest.approx([1e-5 + (1e-3 - 1e-5) * 0.75] * 4)  # cos(π/3): (1+½)/2
    assert lrs[2] == pytest.approx([1e-5 + (1e-3 - 1e-5) * 0.25] * 4)
