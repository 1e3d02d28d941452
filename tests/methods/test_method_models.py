"""Method models on the tiny backbone: eval behaviour, losses, gradients, CAMs, batches.

The per-method tests run over wsolkit's own methods, read from the registry
(aliases dropped); ``method_expectations.py`` says what each one returns.
"""

from __future__ import annotations

import pytest
import torch
from method_expectations import EVAL_OUTPUTS, TRAINING_ONLY, TRAINING_OUTPUTS
from registry_builtins import assert_covers, builtin_names
from torch import nn

from wsolkit.functional import class_activation_map
from wsolkit.methods import Targets, WsolModel
from wsolkit.methods.layers import ADLayer
from wsolkit.registry import backbones, methods

NAMES = builtin_names(methods)
# Settings for the eval test that make a training-only change visible if it leaked into eval.
EVAL_TEST_PARAMS: dict[str, dict[str, object]] = {"adl": {"drop_rate": 1.0}}


def build(name: str, seed: int = 0, **params: object) -> tuple[object, WsolModel]:
    torch.manual_seed(seed)
    method = methods.create(name, **params)
    return method, method.build(backbones.create("tiny", num_classes=5))


def batch(size: int = 4, side: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(size, 3, side, side, generator=g), torch.tensor([0, 1, 2, 3, 4, 0])[:size]


def test_expectations_cover_the_registry() -> None:
    assert_covers(
        TRAINING_OUTPUTS, methods, "TRAINING_OUTPUTS in tests/methods/method_expectations.py"
    )
    erasing = {n for n, out in TRAINING_OUTPUTS.items() if out > EVAL_OUTPUTS}
    assert set(TRAINING_ONLY) == erasing, "TRAINING_ONLY in method_expectations.py"
    stale = sorted(set(EVAL_TEST_PARAMS) - set(NAMES))
    assert not stale, f"EVAL_TEST_PARAMS names methods that are not built-ins: {stale}"


@pytest.mark.parametrize("name", NAMES)
def test_eval_mode_is_the_plain_backbone(name: str) -> None:
    """Eval: {logits, features} of the unerased path; ADL is the identity; no random draw."""
    _, model = build(name, **EVAL_TEST_PARAMS.get(name, {}))
    model.eval()
    images, _ = batch()
    state = torch.get_rng_state()
    with torch.no_grad():
        out = model(images)
        plain = model.backbone.forward_features(images)
    assert torch.equal(torch.get_rng_state(), state)
    assert set(out) == EVAL_OUTPUTS
    assert torch.equal(out["features"], plain)
    assert torch.equal(out["logits"], model.backbone.head(plain))


@pytest.mark.parametrize(
    "name", [n for n in NAMES if TRAINING_OUTPUTS.get(n, set()) > EVAL_OUTPUTS]
)
def test_erased_path_unused_in_eval(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, model = build(name)
    calls = []
    owner_path, _, attr = TRAINING_ONLY[name].rpartition(".")
    owner = model.get_submodule(owner_path)
    target = getattr(owner, attr)
    if isinstance(target, nn.Module):  # e.g. ACoL's classifier B: watch its forward
        owner, attr = target, "forward"
    original = getattr(owner, attr)
    monkeypatch.setattr(owner, attr, lambda *args: calls.append(1) or original(*args))
    model.train()
    with torch.no_grad():
        model(batch()[0])
    assert calls  # the training path does call it
    calls.clear()
    model.eval()
    with torch.no_grad():
        model(batch()[0])
    assert calls == []  # f2 / the auxiliary branch is not called at all in eval mode


def test_adl_in_training_uses_the_drop_mask_with_rate_one() -> None:
    _, model = build("adl", drop_rate=1.0, gamma=0.5)
    images, _ = batch()
    adl = list(model.modules())
    assert sum(isinstance(m, ADLayer) for m in adl) == 2  # after conv2 and conv4
    model.train()
    state = torch.get_rng_state()
    out = model(images)["features"]
    after = torch.get_rng_state()
    torch.set_rng_state(state)
    torch.rand([]), torch.rand([])  # exactly one CPU draw per ADL layer
    assert torch.equal(torch.get_rng_state(), after)
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(out, model(images)["features"])


def test_aligned_eil_training_outputs_and_twice_updated_f2_batchnorm() -> None:
    _, model = build("aligned-eil")
    model.train()
    images, _ = batch()
    out = model(images)
    assert set(out) == {"logits", "features", "features_erased", "similarity"}
    assert out["features"].shape == out["features_erased"].shape == (4, 64, 8, 8)
    assert out["similarity"].shape == (4, 5, 8, 8)
    bb = model.backbone
    assert bb.conv1[1].num_batches_tracked.item() == 1  # f1 runs once
    assert bb.conv3[1].num_batches_tracked.item() == 2  # f2 runs for both paths
    _, cheap = build("aligned-eil", lambda_sim=0.0, lambda_norm=0.0)
    assert "similarity" not in cheap.train()(images)


def test_aligned_eil_total_follows_warm_up() -> None:
    method, model = build("aligned-eil")
    images, labels = batch()
    out = model.train()(images)
    p = method.params
    warm = method.losses(out, Targets(labels), epoch=1, warm_epochs=2)
    full = method.losses(out, Targets(labels), epoch=2, warm_epochs=2)
    assert set(warm) == set(full) == {"total", "ce", "drop", "sim", "norm"}
    torch.testing.assert_close(warm["total"], warm["ce"] + p.lambda_drop * warm["drop"])
    torch.testing.assert_close(
        full["total"],
        full["ce"]
        + p.lambda_drop * full["drop"]
        + p.lambda_sim * full["sim"]
        + p.lambda_norm * full["norm"],
    )
    assert warm["drop"] > 0 and full["total"] != warm["total"]
    torch.testing.assert_close(warm["ce"], nn.functional.cross_entropy(out["logits"], labels))


def test_eil_losses() -> None:
    method, model = build("eil", sigma=0.5, erase_threshold=0.5)
    images, labels = batch()
    out = model.train()(images)
    assert set(out) == {"logits", "features", "logits_erased"}
    losses = method.losses(out, Targets(labels))
    torch.testing.assert_close(losses["total"], losses["ce"] + 0.5 * losses["ce_erased"])
    assert not torch.allclose(out["logits"], out["logits_erased"])


def grads(model: nn.Module, loss: torch.Tensor) -> dict[str, float]:
    model.zero_grad()
    loss.backward(retain_graph=True)
    return {
        n: (p.grad.abs().sum().item() if p.grad is not None else 0.0)
        for n, p in model.named_parameters()
    }


def test_aligned_eil_gradient_flow_per_term() -> None:
    """Each term reaches the parameters it should, and only those."""
    method, model = build("aligned-eil", drop_prob=1.0)
    images, labels = batch()
    out = model.train()(images)
    losses = method.losses(out, Targets(labels), epoch=5, warm_epochs=0)
    f1, f2, fc = "backbone.conv1.0.weight", "backbone.conv6.0.weight", "backbone.head.fc.weight"
    g = {term: grads(model, losses[term]) for term in ("ce", "drop", "sim", "norm")}
    for term in ("ce", "drop", "sim", "norm"):
        assert g[term][f1] > 0 and g[term][f2] > 0, term
    assert g["ce"][fc] > 0 and g["sim"][fc] > 0  # sim touches fc.weight (direction only)
    assert g["drop"][fc] == 0 and g["norm"][fc] == 0  # no logits on the erased path
    assert g["sim"]["backbone.head.fc.bias"] == 0  # the bias plays no part


def test_eil_erased_term_reaches_head_and_trunk() -> None:
    method, model = build("eil", erase_threshold=0.5)
    images, labels = batch()
    losses = method.losses(model.train()(images), Targets(labels))
    g = grads(model, losses["ce_erased"])
    for name in ("backbone.conv1.0.weight", "backbone.conv6.0.weight", "backbone.head.fc.weight"):
        assert g[name] > 0, name


def test_cams_from_one_forward() -> None:
    _, model = build("aligned-eil")
    images, labels = batch()
    model.eval()
    with torch.inference_mode():
        gt = model.cams(images, labels)
        top = model.cams(images, topk=3)
        logits, features = model.infer(images)
        expected = class_activation_map(features, model.backbone.head.fc.weight, labels)
    assert gt.cams.shape == (4, 1, 8, 8) and torch.equal(gt.classes[:, 0], labels)
    torch.testing.assert_close(gt.logits, logits)
    assert torch.equal(gt.cams[:, 0], expected)
    assert top.cams.shape == (4, 3, 8, 8)
    assert torch.equal(top.classes, logits.topk(3, dim=1).indices)
    method = methods.create("cam")
    assert torch.equal(method.cams(model, images, labels).cams, gt.cams)


def test_class_map_head_cams_are_class_maps() -> None:
    torch.manual_seed(0)
    net = backbones.create("inception_v3", num_classes=6)
    model = methods.create("cam").build(net).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        result = model.cams(images, torch.tensor([[1, 5], [0, 2]]))
        maps = net.head.conv(model.infer(images)[1])
    assert torch.equal(result.cams[0], maps[0, [1, 5]]) and torch.equal(
        result.cams[1], maps[1, [0, 2]]
    )
    torch.testing.assert_close(result.logits, maps.mean(dim=(2, 3)))


def test_model_parameter_groups() -> None:
    _, model = build("adl")
    groups = model.parameter_groups("bridging-gap")
    names = {n for n, _ in groups.new}
    assert names == {
        "backbone.conv6.0.weight",
        "backbone.conv6.0.bias",
        "backbone.head.fc.weight",
        "backbone.head.fc.bias",
    }
    assert len(groups.pretrained) + len(groups.new) == len(list(model.parameters()))


def test_has_prepare_batch() -> None:
    method = methods.create("has", grid_size=8, drop_rate=0.5)
    images, labels = batch()
    a, ta = method.prepare_batch(images, labels, torch.Generator().manual_seed(0))
    b, _ = method.prepare_batch(images, labels, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(ta.labels, labels) and ta.mixed_labels is None
    assert (a == 0).any() and not (images == 0).any()


def test_cutmix_prepare_batch_and_loss() -> None:
    method = methods.create("cutmix")
    images, labels = batch()
    mixed, targets = method.prepare_batch(images, labels, torch.Generator().manual_seed(0))
    assert targets.mixed_labels is not None and 0.0 <= targets.lam <= 1.0
    logits = torch.randn(4, 5)
    ce = nn.functional.cross_entropy
    expected = ce(logits, labels) * targets.lam + ce(logits, targets.mixed_labels) * (
        1 - targets.lam
    )
    torch.testing.assert_close(method.losses({"logits": logits}, targets)["total"], expected)
    never = methods.create("cutmix", prob=0.0)
    same, plain = never.prepare_batch(images, labels)
    assert same is images and plain.mixed_labels is None


def test_set_generator_makes_training_forward_reproducible() -> None:
    _, model = build("aligned-eil")
    images, _ = batch()
    outs = []
    for _ in range(2):
        model.set_generator(torch.Generator().manual_seed(5))
        outs.append(model.train()(images)["features_erased"])
    assert torch.equal(outs[0], outs[1])


def one_backbone_per_head_kind() -> list[str]:
    """tiny, and the first built-in backbone of every other head kind (class-map: inception_v3)."""
    chosen = {backbones.load("tiny").head_kind(): "tiny"}
    for name in builtin_names(backbones):
        chosen.setdefault(backbones.load(name).head_kind(), name)
    return sorted(chosen.values())


@pytest.mark.parametrize("backbone", one_backbone_per_head_kind())
def test_cams_are_float32_under_autocast(backbone: str) -> None:
    torch.manual_seed(0)
    model = methods.create("cam").build(backbones.create(backbone, num_classes=3)).eval()
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 2])
    with torch.inference_mode():
        exact = model.cams(images, labels)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model.cams(images, labels)
    assert mixed.cams.dtype == torch.float32
    torch.testing.assert_close(
        mixed.cams, exact.cams, rtol=0.1, atol=0.05 * exact.cams.abs().max().item()
    )
