"""wsolkit.functional.posthoc: each formula against numbers worked out by hand on 2×2 maps.

The running example has two channels at 2×2 positions::

    A0 = [[1, 2], [3, 4]]      G0 = [[0.5, -0.5], [1, 0]]      Σ A0 = 10, mean G0 = 0.25
    A1 = [[2, 1], [1, 0]]      G1 = [[-3,   0], [0, -1]]      Σ A1 = 4,  mean G1 = -1
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from wsolkit.functional import (
    bagcams,
    eigen_cam,
    grad_cam,
    grad_cam_plus_plus,
    layer_cam,
    principal_projection,
    score_cam,
    score_cam_masks,
    upsample_minmax,
    xgrad_cam,
)

A = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[2.0, 1.0], [1.0, 0.0]]]], dtype=torch.float64)
G = torch.tensor([[[[0.5, -0.5], [1.0, 0.0]], [[-3.0, 0.0], [0.0, -1.0]]]], dtype=torch.float64)


def t(rows: list[list[float]]) -> Tensor:
    return torch.tensor([rows], dtype=torch.float64)


def test_grad_cam() -> None:
    # 0.25·A0 − 1·A1 = [[-1.75, -0.5], [-0.25, 1]], then ReLU.
    torch.testing.assert_close(grad_cam(A, G), t([[0, 0], [0, 1]]))


def test_xgrad_cam() -> None:
    # w0 = (0.5·1 − 0.5·2 + 1·3 + 0·4) / (10 + 1e-7), w1 = (−3·2 − 1·0) / (4 + 1e-7).
    w0, w1 = 2.5 / (10 + 1e-7), -6 / (4 + 1e-7)
    expected = [[max(w0 * 1 + w1 * 2, 0), max(w0 * 2 + w1 * 1, 0)], [max(w0 * 3 + w1, 0), w0 * 4]]
    torch.testing.assert_close(xgrad_cam(A, G), t(expected), rtol=0, atol=1e-15)


def test_grad_cam_plus_plus() -> None:
    # Channel 0 (Σ A0 = 10): a = g² / (2g² + 10 g³ + 1e-6) at g = 0.5 and g = 1 (the
    # negative and zero gradients add nothing: ReLU(g) = 0); channel 1 has no positive g.
    w0 = 0.5 * 0.25 / (0.5 + 10 * 0.125 + 1e-6) + 1.0 * 1.0 / (2 + 10 + 1e-6)
    assert w0 == pytest.approx(0.15476185, abs=1e-8)
    torch.testing.assert_close(grad_cam_plus_plus(A, G), w0 * A[:, 0], rtol=0, atol=1e-15)


def test_grad_cam_plus_plus_zero_gradients_give_zero_weights() -> None:
    assert grad_cam_plus_plus(A, torch.zeros_like(A)).abs().max() == 0


def test_layer_cam() -> None:
    # ReLU(G0)·A0 = [[0.5, 0], [3, 0]]; ReLU(G1) = 0.
    torch.testing.assert_close(layer_cam(A, G), t([[0.5, 0], [3, 0]]))


def test_bagcams() -> None:
    # P0 = G0⊙A0 = [[0.5, -1], [3, 0]], mean(P0 + 1) = 6.5/4 = 1.625 → ReLU(1.625·P0);
    # P1 = G1⊙A1 = [[-6, 0], [0, 0]], mean(P1 + 1) = -2/4 = -0.5 → ReLU(-0.5·P1) = [[3, 0], [0, 0]].
    torch.testing.assert_close(bagcams(A, G), t([[0.8125 + 3, 0], [4.875, 0]]))


def test_score_cam() -> None:
    # softmax([ln 1, ln 3]) = [0.25, 0.75]; 0.25·A0 + 0.75·A1.
    scores = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64)
    torch.testing.assert_close(score_cam(A, scores), t([[1.75, 1.25], [1.5, 1.0]]))


def test_score_cam_masks_upsample_with_aligned_corners_and_normalize() -> None:
    # 2×2 → 3×3 with align_corners=True keeps the corners and averages in between.
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]], dtype=torch.float64)
    up = torch.tensor([[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]], dtype=torch.float64)
    torch.testing.assert_close(score_cam_masks(maps, (3, 3))[0, 0], up / (3 + 1e-8))


def test_principal_projection_of_a_rank_one_example() -> None:
    # A1 = 2·A0: the centred positions are x0c·(1, 2), x0c = [-1.5, -0.5, 0.5, 1.5]; the
    # first component is (1, 2)/√5 and the projection √5·x0c.
    a0 = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    acts = torch.stack([a0, 2 * a0])[None]
    root5 = math.sqrt(5)
    expected = root5 * t([[-1.5, -0.5], [0.5, 1.5]])
    torch.testing.assert_close(principal_projection(acts), expected)
    torch.testing.assert_close(eigen_cam(acts), expected.clamp(min=0))
    # Negated activations: the map follows their channel sum, so it flips too.
    torch.testing.assert_close(eigen_cam(-acts), (-expected).clamp(min=0))


def test_principal_projection_sign_rule_ignores_the_svd_sign(monkeypatch) -> None:
    acts = torch.randn(3, 6, 5, 4, generator=torch.Generator().manual_seed(0))
    before = principal_projection(acts)
    centred = acts.flatten(-2) - acts.flatten(-2).mean(-1, keepdim=True)
    correlation = (before.flatten(-2) * centred.sum(-2)).sum(-1)
    assert (correlation > 0).all()
    real = torch.linalg.svd

    def flipped(x: Tensor, full_matrices: bool = True):  # the other valid sign
        u, s, vh = real(x, full_matrices=full_matrices)
        return -u, s, -vh

    monkeypatch.setattr(torch.linalg, "svd", flipped)
    torch.testing.assert_close(principal_projection(acts), before)


def test_upsample_minmax_is_bilinear_without_aligned_corners() -> None:
    # 2 → 4 samples at source coordinates 0 (clamped), 0.25, 0.75, 1 (clamped).
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]], dtype=torch.float64)
    expected = torch.tensor(
        [[0, 0.25, 0.75, 1], [0.5, 0.75, 1.25, 1.5], [1.5, 1.75, 2.25, 2.5], [2, 2.25, 2.75, 3]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(upsample_minmax(maps, (4, 4))[0, 0], expected / 3)
    assert upsample_minmax(torch.full((1, 2, 2, 2), 5.0), (3, 3)).abs().max() == 0


def test_batched_classes_broadcast_against_one_activation() -> None:
    g = torch.stack([G[0], -G[0], 2 * G[0]])[None]  # 1×3 classes×C×h×w
    for formula in (grad_cam, grad_cam_plus_plus, xgrad_cam, layer_cam, bagcams):
        both = formula(A[:, None], g)
        assert both.shape == (1, 3, 2, 2)
        for k in range(3):
            torch.testing.assert_close(both[:, k], formula(A, g[:, k]))


@pytest.mark.parametrize("formula", [grad_cam, layer_cam, bagcams])
def test_shapes_are_checked(formula) -> None:
    with pytest.raises(ValueError, match=r"broadcastable shapes"):
        formula(A, torch.zeros(1, 3, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"…×C×h×w"):
        formula(torch.zeros(4, 4), torch.zeros(4, 4))
