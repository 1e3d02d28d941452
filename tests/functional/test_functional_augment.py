"""Hide-and-Seek and CutMix: cells, rates, boxes, λ, labels."""

from __future__ import annotations

import math

import pytest
import torch

from wsolkit.functional import (
    cutmix,
    cutmix_box,
    hide_and_seek,
    hide_and_seek_mask,
    mixed_cross_entropy,
    sample_beta,
)


def test_hide_and_seek_grid_zero_is_identity() -> None:
    images = torch.randn(2, 3, 8, 8)
    assert hide_and_seek(images, 0, 0.5) is images


@pytest.mark.parametrize(("height", "width", "grid"), [(8, 8, 4), (10, 7, 3)])
def test_hide_and_seek_cells_are_constant(height: int, width: int, grid: int) -> None:
    mask = hide_and_seek_mask(4, height, width, grid, 0.5, torch.Generator().manual_seed(0))
    assert mask.shape == (4, 1, height, width)
    for y in range(0, height, grid):
        for x in range(0, width, grid):
            cell = mask[:, :, y : y + grid, x : x + grid]
            assert (cell == cell[:, :, :1, :1]).all()


def test_hide_and_seek_rates_and_zeroing() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randn(64, 3, 32, 32) + 10  # no natural zeros
    hidden = hide_and_seek(images, 4, 0.5, g)
    share = (hidden[:, 0] == 0).float().mean().item()
    assert 0.45 < share < 0.55
    assert ((hidden == 0) | (hidden == images)).all()
    assert (hide_and_seek(images, 4, 1.0) == 0).all()
    assert torch.equal(hide_and_seek(images, 4, -0.1), images)
    assert images.min() > 0  # the input is not modified


def test_hide_and_seek_independent_per_image() -> None:
    images = torch.ones(32, 1, 16, 16)
    hidden = hide_and_seek(images, 4, 0.5, torch.Generator().manual_seed(1))
    assert len({tuple(h.flatten().tolist()) for h in hidden}) > 16


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.75, 1.0])
def test_cutmix_box_sides(lam: float) -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        y0, y1, x0, x1 = cutmix_box(40, 30, lam, g)
        assert 0 <= y0 <= y1 <= 40 and 0 <= x0 <= x1 <= 30
        cut_h, cut_w = int(40 * math.sqrt(1 - lam)), int(30 * math.sqrt(1 - lam))
        assert y1 - y0 <= 2 * (cut_h // 2) and x1 - x0 <= 2 * (cut_w // 2)


def test_cutmix_pastes_partner_region_and_recomputes_lambda() -> None:
    g = torch.Generator().manual_seed(3)
    images = torch.arange(4.0)[:, None, None, None].expand(4, 2, 16, 16).clone()
    labels = torch.tensor([0, 1, 2, 3])
    mixed, labels_a, labels_b, lam = cutmix(images, labels, 1.0, g)
    assert torch.equal(labels_a, labels)
    own = (mixed == images).all(dim=1)  # B×H×W: pixels that kept their own image
    for b in range(4):
        partner = labels_b[b].item()
        pasted = ~own[b]
        if partner != b:
            assert (mixed[b][:, pasted] == partner).all()
            assert own[b].float().mean().item() == pytest.approx(lam)
    assert images[1].max() == 1  # the input is not modified


def test_sample_beta_is_seeded_and_in_range() -> None:
    a = sample_beta(0.5, torch.Generator().manual_seed(9))
    b = sample_beta(0.5, torch.Generator().manual_seed(9))
    assert a == b and 0.0 <= a <= 1.0
    with pytest.raises(ValueError, match="beta"):
        cutmix(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long), 0.0)


def test_mixed_cross_entropy() -> None:
    logits = torch.randn(3, 5)
    a, b = torch.tensor([0, 1, 2]), torch.tensor([4, 3, 2])
    expected = 0.3 * torch.nn.functional.cross_entropy(
        logits, a
    ) + 0.7 * torch.nn.functional.cross_entropy(logits, b)
    torch.testing.assert_close(mixed_cross_entropy(logits, a, b, 0.3), expected)
