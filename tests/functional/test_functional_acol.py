"""ACoL's math on tiny tensors with hand-derived values: attention, erasing mask, CAM.

The float64 comparison with wsolevaluation's own ``VggAcol`` / ``ResNetAcol`` /
``InceptionAcol`` (logits, CAMs, loss, gradients) is run outside the test suite;
its figures are in the CHANGELOG entry of the ACoL/SPG release.
"""

from __future__ import annotations

import math

import pytest
import torch

from wsolkit.functional import (
    acol_cam,
    acol_erase,
    acol_erasing_mask,
    class_attention,
    normalize_maps,
    select_maps,
)


def test_normalize_maps_per_map_and_nan_for_constant() -> None:
    maps = torch.tensor([[[[0.0, 2.0], [4.0, 8.0]], [[-1.0, -1.0], [-1.0, -1.0]]]])  # 1×2×2×2
    out = normalize_maps(maps)
    assert out[0, 0].flatten().tolist() == [0.0, 0.25, 0.5, 1.0]
    assert torch.isnan(out[0, 1]).all()  # no epsilon, as the reference's normalize_tensor


def test_class_attention_picks_the_label_and_is_detached() -> None:
    maps = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 2, 2).requires_grad_()
    maps.data[1, 2] = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
    attention = class_attention(maps, torch.tensor([0, 2]))
    assert attention.shape == (2, 1, 2, 2) and not attention.requires_grad
    assert attention[0, 0].flatten().tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert attention[1, 0].flatten().tolist() == pytest.approx([1.0, 0.0, 0.0, 0.5])
    assert torch.equal(select_maps(maps, torch.tensor([0, 2]))[:, 0], maps[[0, 1], [0, 2]])


def test_erasing_mask_is_not_strict_and_keeps_nan() -> None:
    attention = torch.tensor([0.0, 0.5, 0.7, 0.9, math.nan]).view(1, 1, 1, 5)
    mask = acol_erasing_mask(attention, 0.7)
    assert mask.flatten().tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]  # 0.7 itself is erased
    features = torch.arange(10.0).view(1, 2, 1, 5)
    erased = acol_erase(features, attention, 0.7)
    assert erased.tolist() == [[[[0.0, 1.0, 0.0, 0.0, 4.0]], [[5.0, 6.0, 0.0, 0.0, 9.0]]]]


def test_erasing_from_branch_a_maps() -> None:
    """Class 1's map [1, 5, 3, 2] normalizes to [0, 1, .5, .25]: threshold .5 erases 2 cells."""
    maps_a = torch.zeros(1, 2, 2, 2)
    maps_a[0, 1] = torch.tensor([[1.0, 5.0], [3.0, 2.0]])
    features = torch.ones(1, 3, 2, 2)
    erased = acol_erase(features, class_attention(maps_a, torch.tensor([1])), 0.5)
    assert erased[0, 0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert torch.equal(erased[:, 0], erased[:, 2])  # one mask for every channel


def test_acol_cam_is_the_max_of_both_normalized_maps() -> None:
    maps_a = torch.zeros(2, 3, 1, 4)
    maps_b = torch.zeros(2, 3, 1, 4)
    maps_a[0, 2] = torch.tensor([0.0, 1.0, 2.0, 3.0])  # -> 0, 1/3, 2/3, 1
    maps_b[0, 2] = torch.tensor([6.0, 0.0, 0.0, 3.0])  # -> 1, 0, 0, .5
    maps_a[1, 0] = torch.tensor([2.0, 4.0, 0.0, 2.0])  # -> .5, 1, 0, .5
    maps_b[1, 0] = torch.tensor([-1.0, -3.0, 1.0, -3.0])  # -> .5, 0, 1, 0
    cam = acol_cam(maps_a, maps_b, torch.tensor([2, 0]))
    assert cam.shape == (2, 1, 4)
    torch.testing.assert_close(cam[0, 0], torch.tensor([1.0, 1 / 3, 2 / 3, 1.0]))
    torch.testing.assert_close(cam[1, 0], torch.tensor([0.5, 1.0, 1.0, 0.5]))


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"B×1×H×W, got shape \(1, 2, 3, 3\)"):
        acol_erasing_mask(torch.zeros(1, 2, 3, 3), 0.5)
    with pytest.raises(ValueError, match="one shape"):
        acol_cam(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 4, 4), torch.tensor([0]))
    with pytest.raises(ValueError, match="B×K×H×W"):
        normalize_maps(torch.zeros(3, 3))
