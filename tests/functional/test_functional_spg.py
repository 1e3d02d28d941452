"""SPG's guidance masks and losses: hand-derived values, the 30-position fallback, a literal loop.

The float64 comparison with wsolevaluation's own ``VggSpg`` / ``ResNetSpg`` /
``InceptionSpg`` (logits, CAMs, each loss term, gradients) is run outside the test suite.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wsolkit.functional import spg_guidance_mask, spg_losses, spg_mask_loss, upsample_maps
from wsolkit.functional.spg import IGNORE


def literal_mask(attention: torch.Tensor, high: float, low: float) -> torch.Tensor:
    """The mask written as the reference's loops read: per sample, fallback, then background."""
    mask = torch.full_like(attention, 255.0)
    for b in range(attention.shape[0]):
        fg = attention[b] > high
        if fg.float().sum().item() < 30:
            fg = attention[b] > attention[b].max() * 0.7
        mask[b][fg] = 1.0
    mask[attention < low] = 0.0
    return mask


def test_mask_hand_values_with_and_without_the_fallback() -> None:
    attention = torch.zeros(2, 1, 8, 8)
    a0 = attention[0, 0].view(-1)
    a0[:40], a0[40:60], a0[60:] = 0.9, 0.3, 0.005  # 40 ≥ 30 positions above 0.7
    a1 = attention[1, 0].view(-1)
    a1[:10], a1[10:20], a1[20:] = 0.8, 0.6, 0.5  # only 10 above 0.7: cut at 0.7 · 0.8 = 0.56
    mask = spg_guidance_mask(attention, high=0.7, low=0.01).view(2, -1)
    assert mask[0, :40].eq(1).all() and mask[0, 40:60].eq(IGNORE).all()
    assert mask[0, 60:].eq(0).all()
    assert mask[1, :20].eq(1).all() and mask[1, 20:].eq(IGNORE).all()


def test_mask_thresholds_are_strict_and_background_wins() -> None:
    attention = torch.full((1, 1, 8, 8), 0.7)
    attention.view(-1)[:32] = 0.71
    attention.view(-1)[63] = 0.01
    mask = spg_guidance_mask(attention, high=0.7, low=0.01).view(-1)
    assert mask[:32].eq(1).all() and mask[32:63].eq(IGNORE).all()  # 0.7 is not > 0.7
    assert mask[63] == IGNORE  # 0.01 is not < 0.01
    both = spg_guidance_mask(attention, high=0.1, low=0.9).view(-1)  # low above high
    assert both.eq(0).all()  # every position is background: background is applied last


def test_mask_of_a_constant_nan_map_labels_nothing() -> None:
    attention = torch.full((1, 1, 4, 4), math.nan)
    assert spg_guidance_mask(attention, 0.7, 0.01).eq(IGNORE).all()


@pytest.mark.parametrize("seed", range(5))
def test_mask_equals_the_literal_loop(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    attention = torch.rand(6, 1, 12, 12, generator=g) ** torch.linspace(0.5, 8, 6).view(6, 1, 1, 1)
    for high, low in ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1), (0.95, 0.3)):
        assert torch.equal(
            spg_guidance_mask(attention, high, low), literal_mask(attention, high, low)
        )


def test_mask_loss_averages_over_labelled_positions_only() -> None:
    logits = torch.tensor([[[[0.0, 2.0, -1.0, 5.0]]]], requires_grad=True)
    mask = torch.tensor([[[[1.0, IGNORE, 0.0, IGNORE]]]])
    loss = spg_mask_loss(logits, mask)
    expected = (math.log(2.0) + math.log(1.0 + math.e**-1.0)) / 2
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert logits.grad is not None and logits.grad[0, 0, 0, 1] == logits.grad[0, 0, 0, 3] == 0


def test_mask_loss_without_labelled_positions_is_zero_with_a_gradient() -> None:
    logits = torch.randn(1, 1, 2, 2, requires_grad=True)
    loss = spg_mask_loss(logits, torch.full((1, 1, 2, 2), IGNORE))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() == 0


def test_upsampling_is_nn_upsample_bilinear() -> None:
    maps = torch.randn(2, 3, 5, 7)
    expected = torch.nn.Upsample(size=(20, 28), mode="bilinear")(maps)
    assert torch.equal(upsample_maps(maps, (20, 28)), expected)


def test_spg_losses_follow_their_masks() -> None:
    """Each term is the BCE of its branch against the mask of its source map."""
    g = torch.Generator().manual_seed(0)
    class_maps = torch.randn(2, 4, 4, 4, generator=g)
    b1, b2, c = (torch.randn(2, 1, 16, 16, generator=g) for _ in range(3))
    labels = torch.tensor([3, 1])
    thresholds = ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1))
    terms = spg_losses(class_maps, b1, b2, c, labels, thresholds)
    chosen = class_maps[[0, 1], labels][:, None]
    up = F.interpolate(chosen, size=(16, 16), mode="bilinear", align_corners=False)
    flat = up.view(2, -1)
    low, high = flat.min(1).values.view(2, 1, 1, 1), flat.max(1).values.view(2, 1, 1, 1)
    attention = (up - low) / (high - low)
    fused = (torch.sigmoid(b1) + torch.sigmoid(b2)) / 2
    expected = {
        "spg_b2": spg_mask_loss(b2, literal_mask(attention, 0.7, 0.01)),
        "spg_b1": spg_mask_loss(b1, literal_mask(torch.sigmoid(b2), 0.5, 0.05)),
        "spg_c": spg_mask_loss(c, literal_mask(fused, 0.7, 0.1)),
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], value)


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"B×1×H×W, got shape \(2, 3, 4, 4\)"):
        spg_guidance_mask(torch.zeros(2, 3, 4, 4), 0.7, 0.1)
    with pytest.raises(ValueError, match="one shape"):
        spg_mask_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 8, 8))
