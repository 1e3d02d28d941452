"""Every method on every backbone: a CPU training step, and feature-map sizes at 224 input.

The backbones and methods are wsolkit's own, read from the registries (aliases
dropped); what is expected of each backbone sits in a dict below (of each method,
in ``method_expectations.py``), and tests check that every dict has one entry
per built-in, so a new backbone or method fails until its expectations are
written down.

Training steps run for the whole matrix (about 0.5 s each at 64 px); at 224 px
the heavy backbones run the methods of ``FAST_AT_224`` in the fast suite and
the rest is marked slow (``pytest -m slow``).
"""

from __future__ import annotations

import math

import pytest
import torch
from method_expectations import TRAINING_OUTPUTS
from registry_builtins import assert_covers, builtin_names

from wsolkit.methods import IncompatibleBackboneError
from wsolkit.registry import backbones, methods

BACKBONES = builtin_names(backbones)
METHODS = builtin_names(methods)

# Methods whose build() must refuse the backbone: {method: what the error message says}.
REFUSED: dict[str, dict[str, str]] = {
    "inception_v3": {"aligned-eil": "needs a linear head"},
    "resnet50": {},
    "tiny": {},
    "vgg16": {},
}
# Methods run at 224 px in the fast suite; the other pairs at 224 px are marked slow.
FAST_AT_224 = {
    "inception_v3": {"adl"},
    "resnet50": {"aligned-eil"},
    "tiny": set(METHODS),  # cheap: every method
    "vgg16": {"aligned-eil"},
}
BY_BACKBONE = {"REFUSED": REFUSED, "FAST_AT_224": FAST_AT_224}
WHERE = "tests/methods/test_method_matrix.py"


@pytest.mark.parametrize("table", BY_BACKBONE)
def test_backbone_expectations_cover_the_registry(table: str) -> None:
    expected = BY_BACKBONE[table]
    assert_covers(expected, backbones, f"{table} in {WHERE}")
    unknown = sorted({m for chosen in expected.values() for m in chosen} - set(METHODS))
    assert not unknown, f"{table} in {WHERE} names methods that are not built-ins: {unknown}"


def matrix(fast: dict[str, set[str]] | None) -> list[object]:
    """Every supported (backbone, method) pair; given ``fast``, the pairs not in it are slow."""
    cases = []
    for b in BACKBONES:
        for m in METHODS:
            if m in REFUSED.get(b, {}):
                continue
            slow = fast is not None and m not in fast.get(b, ())
            marks = [pytest.mark.slow] if slow else []
            cases.append(pytest.param(b, m, marks=marks, id=f"{b}-{m}"))
    return cases


@pytest.mark.parametrize(("backbone", "method"), matrix(fast=None))
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


@pytest.mark.parametrize(("backbone", "method"), matrix(FAST_AT_224))
def test_feature_map_sizes_at_224(backbone: str, method: str) -> None:
    """Training and eval outputs at 224 input, erased paths alike.

    The feature maps keep the backbone's own size (pinned for each backbone in
    tests/backbones/test_backbone_builtins.py: 14×14, 56×56 for tiny).
    """
    torch.manual_seed(0)
    net = backbones.create(backbone, num_classes=3)
    side = 224 // net.feature_reduction
    model = methods.create(method).build(net)
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        out = model.train()(images)
        assert set(out) == TRAINING_OUTPUTS[method]
        assert out["features"].shape[-2:] == (side, side)
        assert out["logits"].shape == (2, 3)
        if "features_erased" in out:
            assert out["features_erased"].shape == out["features"].shape
        if "similarity" in out:
            assert out["similarity"].shape == (2, 3, side, side)
        if "logits_erased" in out:
            assert out["logits_erased"].shape == (2, 3)
        cams = model.eval().cams(images[:1], torch.tensor([2]))
    assert cams.cams.shape == (1, 1, side, side)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backbone", [b for b in BACKBONES if "aligned-eil" not in REFUSED.get(b, {})]
)
def test_large_feature_map_split_at_224(backbone: str) -> None:
    net = backbones.create(backbone, num_classes=3, large_feature_map=True)
    side = 224 // net.feature_reduction
    model = methods.create("aligned-eil").build(net)
    with torch.no_grad():
        out = model.train()(torch.randn(2, 3, 224, 224))
    assert out["features"].shape[-2:] == out["features_erased"].shape[-2:] == (side, side)


@pytest.mark.parametrize(
    ("backbone", "method"), [(b, m) for b in BACKBONES for m in sorted(REFUSED.get(b, {}))]
)
def test_unsupported_pairs_fail_clearly(backbone: str, method: str) -> None:
    with pytest.raises(IncompatibleBackboneError, match=REFUSED[backbone][method]):
        methods.create(method).build(backbones.create(backbone, num_classes=3))
