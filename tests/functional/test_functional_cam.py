"""class_activation_map: hand values, an explicit einsum, B×k classes, shape errors."""

from __future__ import annotations

import pytest
import torch

from wsolkit.functional import class_activation_map


def test_hand_computed_value() -> None:
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # 1×2×1×2
    weights = torch.tensor([[2.0, 1.0], [0.0, -1.0]])
    cam = class_activation_map(features, weights, torch.tensor([0]))
    assert cam.shape == (1, 1, 2)
    assert cam.tolist() == [[[2.5, 4.0]]]  # ((2·1 + 1·3)/2, (2·2 + 1·4)/2)


def test_equals_explicit_einsum_and_ignores_bias() -> None:
    g = torch.Generator().manual_seed(0)
    features = torch.relu(torch.randn(4, 16, 7, 7, generator=g))
    fc = torch.nn.Linear(16, 5)
    labels = torch.tensor([0, 3, 4, 3])
    expected = torch.einsum("bc,bchw->bhw", fc.weight[labels], features) / 16
    cams = class_activation_map(features, fc.weight, labels)
    torch.testing.assert_close(cams, expected, rtol=1e-6, atol=1e-6)


def test_top_k_classes() -> None:
    g = torch.Generator().manual_seed(1)
    features, weights = torch.randn(3, 8, 5, 5, generator=g), torch.randn(6, 8, generator=g)
    classes = torch.tensor([[0, 5], [2, 2], [4, 1]])
    cams = class_activation_map(features, weights, classes)
    assert cams.shape == (3, 2, 5, 5)
    expected = torch.einsum("bkc,bchw->bkhw", weights[classes], features) / 8
    torch.testing.assert_close(cams, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cams[:, 1], class_activation_map(features, weights, classes[:, 1]))


def test_gradient_reaches_features_and_weights() -> None:
    features = torch.randn(2, 4, 3, 3, requires_grad=True)
    weights = torch.randn(3, 4, requires_grad=True)
    class_activation_map(features, weights, torch.tensor([1, 2])).sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert weights.grad is not None and weights.grad[0].abs().sum() == 0  # class 0 unused
    assert weights.grad[1:].abs().sum() > 0


@pytest.mark.parametrize(
    ("features", "weights", "labels"),
    [
        (torch.zeros(2, 4, 3), torch.zeros(3, 4), torch.zeros(2, dtype=torch.long)),
        (torch.zeros(2, 4, 3, 3), torch.zeros(3, 5), torch.zeros(2, dtype=torch.long)),
        (torch.zeros(2, 4, 3, 3), torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)),
    ],
)
def test_shape_errors(features: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="must be"):
        class_activation_map(features, weights, labels)
