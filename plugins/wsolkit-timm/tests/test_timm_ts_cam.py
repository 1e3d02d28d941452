"""ts-cam: conformance, the CAM against a hand computation, the attention switch, a 224 px step."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from wsolkit.methods import IncompatibleBackboneError
from wsolkit.registry import backbones, methods
from wsolkit.testing import check_method
from wsolkit.testing.support import seeded

from wsolkit_timm.deit import DeiTSmall
from wsolkit_timm.functional import class_token_attention, tokens_to_map, ts_cam


def test_conformance(tiny_deit: type[DeiTSmall]) -> None:
    report = check_method("ts-cam", backbone=tiny_deit)
    assert report.cam_size == report.feature_size == (4, 4)
    assert set(report.losses) == {"total", "ce"} and report.hyperparameters == ()


def test_cnns_are_refused_in_one_line() -> None:
    with pytest.raises(IncompatibleBackboneError) as info:
        methods.create("ts-cam").build(backbones.create("tiny", num_classes=3))
    text = str(info.value)
    assert "\n" not in text and "method 'ts-cam'" in text and "backbone 'tiny'" in text


def _hand_attention(block: nn.Module, tokens: Tensor) -> Tensor:
    """softmax(q·kᵀ/√d) of one timm block, B×H×T×T, from its input tokens, written out."""
    x = block.norm1(tokens)
    batch, count, channels = x.shape
    heads = block.attn.num_heads
    qkv = x @ block.attn.qkv.weight.T + block.attn.qkv.bias
    q, k, _ = qkv.reshape(batch, count, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(channels // heads), dim=-1)


def test_cam_equals_a_hand_computation(toy_vit: type[DeiTSmall]) -> None:
    """On two blocks: (Σ_l mean_heads A_l[cls → patches]) ⊙ (3×3 conv class map, bias, no ReLU)."""
    with seeded(0):
        net = toy_vit(num_classes=4)
        images = torch.randn(3, 3, 64, 64, dtype=torch.float64)
    method = methods.create("ts-cam")
    model = method.build(net).double().eval()
    classes = torch.tensor([0, 3, 1])
    with torch.inference_mode():
        result = method.cams(model, images, classes)
        top = method.cams(model, images, topk=2)
        x = net.stage("patch_embed")(images)
        summed = torch.zeros(3, 17, 17, dtype=torch.float64)
        for block in net.blocks:
            summed += _hand_attention(block, x).mean(dim=1)  # heads averaged, blocks summed
            x = block(x)
        agnostic = summed[:, 0, 1:].reshape(3, 4, 4)  # class token → the 4×4 patches
        patch_map = net.norm(x)[:, 1:].reshape(3, 4, 4, 16).permute(0, 3, 1, 2)
        class_maps = F.conv2d(patch_map, net.head.conv.weight, net.head.conv.bias, padding=1)
    logits = class_maps.mean(dim=(2, 3))
    torch.testing.assert_close(result.logits, logits)
    torch.testing.assert_close(result.cams[:, 0], agnostic * class_maps[torch.arange(3), classes])
    assert bool((class_maps < 0).any()) and bool((result.cams < 0).any())  # no ReLU
    order = logits.topk(2, dim=1).indices
    assert torch.equal(top.classes, order)
    for j in range(2):
        expected = agnostic * class_maps[torch.arange(3), order[:, j]]
        torch.testing.assert_close(top.cams[:, j], expected)


def test_the_formula_s_order_of_operations() -> None:
    """TS-CAM's ``stack → mean(dim=2) → sum(0) → [:, 0, 1:]``; a sequence or a stacked tensor."""
    attentions = torch.rand(3, 2, 4, 5, 5, dtype=torch.float64).softmax(dim=-1)
    expected = attentions.mean(dim=2).sum(dim=0)[:, 0, 1:].reshape(2, 2, 2)
    torch.testing.assert_close(class_token_attention(attentions), expected, rtol=0, atol=0)
    torch.testing.assert_close(class_token_attention(list(attentions)), expected, rtol=0, atol=0)
    maps = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(ts_cam(attentions, maps), expected[:, None] * maps, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"class_maps must be B×k×2×2"):
        ts_cam(attentions, torch.zeros(2, 3, 3, 3))
    tokens = torch.arange(2 * 5 * 3.0).reshape(2, 5, 3)
    assert torch.equal(tokens_to_map(tokens)[1, :, 0, 1], tokens[1, 2])  # row-major patches
    with pytest.raises(ValueError, match="do not form a square grid"):
        tokens_to_map(torch.zeros(1, 4, 3))


def test_fused_attention_is_restored_even_after_an_error(tiny_deit: type[DeiTSmall]) -> None:
    net = tiny_deit(num_classes=2).eval()
    flags = [b.attn.fused_attn for b in net.blocks]
    with pytest.raises(RuntimeError, match="boom"), net.recorded_attention() as recorded:
        assert not any(b.attn.fused_attn for b in net.blocks)
        with torch.no_grad():
            net(torch.randn(1, 3, 64, 64))
        assert [tuple(a.shape) for a in recorded] == [(1, 2, 17, 17)] * 12
        raise RuntimeError("boom")
    assert [b.attn.fused_attn for b in net.blocks] == flags
    assert not any(b.attn.attn_drop._forward_hooks for b in net.blocks)


def test_cams_stay_float32_under_autocast(tiny_deit: type[DeiTSmall]) -> None:
    method = methods.create("ts-cam")
    model = method.build(tiny_deit(num_classes=3)).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        plain = method.cams(model, images, torch.tensor([0, 2]))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = method.cams(model, images, torch.tensor([0, 2]))
    assert mixed.cams.dtype == torch.float32
    torch.testing.assert_close(mixed.cams, plain.cams, rtol=0.1, atol=0.1 * plain.cams.abs().max())


def test_a_training_step_at_224_px() -> None:
    """deit_small as TS-CAM trains it (drop path 0.1, AdamW), batch 2 at 224 px, on the CPU."""
    generator = torch.Generator().manual_seed(0)
    with seeded(0):
        net = DeiTSmall(num_classes=5, drop_path_rate=0.1)
    method = methods.create("ts-cam")
    model = method.build(net).train()
    groups = model.parameter_groups("bridging-gap").optimizer_groups(5e-5, 10.0)
    optimizer = torch.optim.AdamW(groups, lr=5e-5, weight_decay=0.05)
    images = torch.randn(2, 3, 224, 224, generator=generator)
    images, targets = method.prepare_batch(images, torch.tensor([1, 4]), generator)
    outputs = model(images)
    assert tuple(outputs["logits"].shape) == (2, 5)
    assert tuple(outputs["features"].shape) == (2, 384, 14, 14)
    losses = method.losses(outputs, targets)
    assert set(losses) == {"total", "ce"} and math.isfinite(float(losses["total"].detach()))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    named = dict(model.named_parameters())
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in named.values())
    optimizer.step()
    assert not [n for n, p in named.items() if torch.equal(before[n], p.detach())]
    model.eval()
    with torch.inference_mode():
        result = method.cams(model, images[:1], topk=3)
    assert tuple(result.cams.shape) == (1, 3, 14, 14)
