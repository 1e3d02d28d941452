"""Aligned-EIL losses: hand-computed values, empty masks, gradients, reference golden values.

The golden values (``align_*`` in data/reference_golden.npz) are bridging-gap's
``_get_loss_alignment``. Regenerate with: ``python
tests/parity/regenerate_functional_goldens.py --bridging-gap PATH --wsolevaluation PATH``
(your own clones; ``--check`` compares).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsolkit.functional import (
    cosine_similarity_map,
    drop_consistency_loss,
    feature_alignment_loss,
    masked_mean,
    minmax_normalize,
)

GOLDEN = Path(__file__).parent / "data" / "reference_golden.npz"


def hand_example() -> tuple[torch.Tensor, torch.Tensor]:
    """Two samples of 4 positions (1×4 maps, C = 2) and two unit class weights.

    Sample 0 has feature vectors (0,0), (1,0), (0,2), (3,4): norms 0, 1, 2, 5,
    min-max normalized to 0, 0.2, 0.4, 1. Sample 1 is (1,0) everywhere: a
    constant norm, normalized to all zeros.
    """
    s0 = torch.tensor([[0.0, 1.0, 0.0, 3.0], [0.0, 0.0, 2.0, 4.0]])
    s1 = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    features = torch.stack([s0, s1])[:, :, None, :]  # 2×2×1×4
    weights = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    return features, weights


def test_minmax_normalize_hand_values_and_constant_sample() -> None:
    features, _ = hand_example()
    norm = minmax_normalize(torch.norm(features, dim=1))
    torch.testing.assert_close(norm[0, 0], torch.tensor([0.0, 0.2, 0.4, 1.0]))
    assert norm[1].abs().max() == 0  # constant -> zeros (0 / (0 + 1e-15))


def test_cosine_similarity_hand_values() -> None:
    features, weights = hand_example()
    sim = cosine_similarity_map(features, weights)
    assert sim.shape == (2, 2, 1, 4)
    torch.testing.assert_close(sim[0, 0, 0], torch.tensor([0.0, 1.0, 0.0, 0.6]))
    torch.testing.assert_close(sim[0, 1, 0], torch.tensor([0.0, 0.0, -1.0, -0.8]))
    torch.testing.assert_close(sim[1, :, 0, 0], torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize(("region", "expected_norm"), [("target", 0.35), ("max", -0.3)])
def test_feature_alignment_loss_hand_values(region: str, expected_norm: float) -> None:
    """Target class 1, fg = ñ > 0.3 (positions 2, 3), bg = ñ < 0.25 (positions 0, 1).

    Sample 0: s = cos(F, w_1) = (0, 0, −1, −0.8), L_sim = 0 − (−0.9) = 0.9.
    target: r = s, aligned (r > 0) none, opposed = {2, 3}: L_norm = 0.7 − 0 = 0.7.
    max: r = (0, 1, 0, 0.6), aligned = {1, 3}: L_norm = 0 − 0.6 = −0.6.
    Sample 1: ñ = 0 everywhere (all background, no foreground), s = 0: L_sim = 0;
    L_norm = 0 (target: no region; max: r = 1 everywhere but ñ = 0).
    The batch means are (0.45, 0.35) and (0.45, −0.3).
    """
    features, weights = hand_example()
    loss_sim, loss_norm = feature_alignment_loss(
        features, weights, torch.tensor([1, 1]), 0.3, 0.25, region
    )
    assert loss_sim.item() == pytest.approx(0.45, abs=1e-6)
    assert loss_norm.item() == pytest.approx(expected_norm, abs=1e-6)


def test_empty_foreground_and_background_give_zero() -> None:
    features, weights = hand_example()
    loss_sim, _ = feature_alignment_loss(features, weights, torch.tensor([1, 0]), 1.0, 0.0, "max")
    assert loss_sim.item() == 0.0
    empty = torch.zeros(2, 4)
    assert masked_mean(torch.ones(2, 4), empty).tolist() == [0.0, 0.0]


def test_zero_features_give_zero_losses_and_finite_gradients() -> None:
    features = torch.zeros(2, 3, 4, 4, requires_grad=True)
    weights = torch.randn(5, 3, requires_grad=True)
    loss_sim, loss_norm = feature_alignment_loss(
        features, weights, torch.tensor([0, 4]), 0.6, 0.1, "max"
    )
    assert loss_sim.item() == 0.0 and loss_norm.item() == 0.0
    (loss_sim + loss_norm).backward()
    assert torch.isfinite(features.grad).all() and torch.isfinite(weights.grad).all()


def test_gradient_flows_through_min_and_max() -> None:
    """L_norm's gradient at the argmax position comes only through max(n): it must be non-zero."""
    features, weights = hand_example()
    features = features[:1].clone().requires_grad_(True)
    _, loss_norm = feature_alignment_loss(features, weights, torch.tensor([1]), 0.3, 0.25, "max")
    loss_norm.backward()
    # position 3 (the max norm, ñ = 1) — its own ñ is constant 1, so any gradient there
    # comes through max(n) in the other positions' normalization.
    assert features.grad[0, :, 0, 3].abs().sum() > 0


def test_unknown_norm_region() -> None:
    features, weights = hand_example()
    with pytest.raises(ValueError, match="norm_region"):
        feature_alignment_loss(features, weights, torch.tensor([0, 0]), 0.6, 0.1, "mean")  # type: ignore[arg-type]


def test_drop_consistency_is_mean_absolute_difference() -> None:
    a = torch.tensor([[[[1.0, -2.0]]]])
    b = torch.tensor([[[[0.0, 1.0]]]])
    assert drop_consistency_loss(a, b).item() == 2.0  # (1 + 3) / 2


@pytest.mark.parametrize("tag", ["a", "b"])
@pytest.mark.parametrize("region", ["max", "target"])
def test_equals_reference_golden_values(tag: str, region: str) -> None:
    """Values and gradients of 0.5·L_sim + 0.15·L_norm equal bridging-gap's trainer.

    On one machine and thread count they agree bit for bit; the tolerance only
    absorbs the reduction order of the convolution's weight gradient, which
    depends on the number of threads.

    The golden file holds the inputs and the outputs of the reference
    ``trainer.py::_get_loss_alignment`` (bridging-gap 4561dc8), CUB = "max",
    ILSVRC = "target"; thresholds a = (0.6, 0.1), b = (0.4, 0.2).
    """
    golden = np.load(GOLDEN)
    fg, bg = golden["align_thresholds"][0 if tag == "a" else 1].tolist()
    features = torch.from_numpy(golden["align_features"]).requires_grad_(True)
    weights = torch.from_numpy(golden["align_weights"]).requires_grad_(True)
    labels = torch.from_numpy(golden["align_labels"])
    loss_sim, loss_norm = feature_alignment_loss(features, weights, labels, fg, bg, region)
    (0.5 * loss_sim + 0.15 * loss_norm).backward()
    key = f"align_{tag}_{region}"
    assert loss_sim.item() == pytest.approx(golden[key + "_sim"].item(), rel=1e-6, abs=1e-9)
    assert loss_norm.item() == pytest.approx(golden[key + "_norm"].item(), rel=1e-6, abs=1e-9)
    for name, grad in (("features", features.grad), ("weights", weights.grad)):
        expected = torch.from_numpy(golden[f"{key}_grad_{name}"])
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-8)
