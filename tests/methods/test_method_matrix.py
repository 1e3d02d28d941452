"""Every method on every backbone: a CPU training step, and feature-map sizes at 224 input.

Training steps run for the whole matrix (about 0.5 s each at 64 px); at 224 px
the heavy backbones run one representative method in the fast suite and the
rest is marked slow (``pytest -m slow``).
"""

from __future__ import annotations

import math

import pytest
import torch

from wsolkit.methods import IncompatibleBackboneError
from wsolkit.registry import backbones, methods

BACKBONES = ("tiny", "vgg16", "resnet50", "inception_v3")
METHODS = ("cam", "has", "cutmix", "adl", "eil", "aligned-eil")
UNSUPPORTED = {("inception_v3", "aligned-eil")}  # needs a linear head
FAST = {("vgg16", "aligned-eil"), ("resnet50", "aligned-eil"), ("inception_v3", "adl")}
SIDE_224 = {"tiny": 56, "vgg16": 14, "resnet50": 14, "inception_v3": 14}
ALL_PAIRS = {(b, m) for b in BACKBONES for m in METHODS}


def matrix(fast: set[tuple[str, str]]) -> list[object]:
    cases = []
    for b in BACKBONES:
        for m in METHODS:
            if (b, m) in UNSUPPORTED:
                continue
            slow = b != "tiny" and (b, m) not in fast
            marks = [pytest.mark.slow] if slow else []
            cases.append(pytest.param(b, m, marks=marks, id=f"{b}-{m}"))
    return cases


@pytest.mark.parametrize(("backbone", "method"), matrix(ALL_PAIRS))
def test_training_step(backbone: str, method: str) -> None:
    """prepare_batch -> forward -> losses -> backward -> SGD step, on a CPU at 64 px.

    Every parameter receives a gradient (DistributedDataParallel without
    ``find_unused_parameters`` needs that) and the step changes the weights.
    """
    torch.manual_seed(0)
    m = methods.create(method)
    model = m.build(backbones.create(backbone, num_classes=5)).train()
    groups = model.parameter_groups("bridging-gap")
    opt = torch.optim.SGD(groups.optimizer_groups(0.01, 10.0), lr=0.01, momentum=0.9, nesterov=True)
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randn(2, 3, 64, 64, generator=g), torch.tensor([1, 4])
    images, targets = m.prepare_batch(images, labels, g)
    losses = m.losses(model(images), targets, epoch=3, warm_epochs=1)
    assert all(math.isfinite(v.item()) for v in losses.values()), losses
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt.zero_grad()
    losses["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]
    opt.step()
    changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters())
    assert changed == len(before)


@pytest.mark.parametrize(("backbone", "method"), matrix(FAST))
def test_feature_map_sizes_at_224(backbone: str, method: str) -> None:
    """Training and eval outputs at 224 input: 14×14 (56×56 for tiny), erased path alike."""
    torch.manual_seed(0)
    model = methods.create(method).build(backbones.create(backbone, num_classes=3))
    side = SIDE_224[backbone]
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        out = model.train()(images)
        assert out["features"].shape[-2:] == (side, side)
        assert out["logits"].shape == (2, 3)
        if method == "aligned-eil":
            assert out["features_erased"].shape == out["features"].shape
            assert out["similarity"].shape == (2, 3, side, side)
        if method == "eil":
            assert out["logits_erased"].shape == (2, 3)
        cams = model.eval().cams(images[:1], torch.tensor([2]))
    assert cams.cams.shape == (1, 1, side, side)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["vgg16", "resnet50"])
def test_large_feature_map_split_at_224(backbone: str) -> None:
    model = methods.create("aligned-eil").build(
        backbones.create(backbone, num_classes=3, large_feature_map=True)
    )
    with torch.no_grad():
        out = model.train()(torch.randn(2, 3, 224, 224))
    assert out["features"].shape[-2:] == out["features_erased"].shape[-2:] == (28, 28)


def test_unsupported_pairs_fail_clearly() -> None:
    for backbone, method in UNSUPPORTED:
        with pytest.raises(IncompatibleBackboneError, match="linear head"):
            methods.create(method).build(backbones.create(backbone, num_classes=3))
