"""Attentive drop and EIL erasing: strict threshold, shared channel mask, random draws, golden.

The golden values (``drop_*`` in data/reference_golden.npz) are bridging-gap's
``AttentiveDrop``. Regenerate with: ``python tests/parity/regenerate_functional_goldens.py
--bridging-gap PATH --wsolevaluation PATH`` (your own clones; ``--check`` compares).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsolkit.functional import (
    attentive_drop,
    attentive_drop_mask,
    discriminative_region,
    eil_erase,
    eil_erasing_mask,
)

GOLDEN = Path(__file__).parent / "data" / "reference_golden.npz"


def ramp() -> torch.Tensor:
    """1×2×1×5 features whose channel mean is 0, 1, 2, 3, 4 (max 4)."""
    mean = torch.arange(5.0)
    return torch.stack([mean - 1, mean + 1])[None, :, None, :]


def test_discriminative_region_is_strict() -> None:
    # threshold 0.5 · max 4 = 2: only 3 and 4 exceed it (2 itself does not).
    region = discriminative_region(ramp(), 0.5)
    assert region.shape == (1, 1, 1, 5)
    assert region.flatten().tolist() == [False, False, False, True, True]


def test_eil_mask_hand_values() -> None:
    features = ramp()
    assert eil_erasing_mask(features, 0.5).flatten().tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    erased = eil_erase(features, 0.5)
    assert erased[..., 3:].abs().sum() == 0
    torch.testing.assert_close(erased[..., :3], features[..., :3])


def test_attentive_drop_extremes() -> None:
    features = ramp()
    everything = attentive_drop_mask(features, 0.5, drop_prob=1.0)  # u <= 1 always
    assert everything.flatten().tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    nothing = attentive_drop_mask(features, 0.5, drop_prob=-1.0)
    assert nothing.flatten().tolist() == [1.0] * 5


def test_attentive_drop_uses_one_float32_draw_per_position_shared_by_channels() -> None:
    g = torch.Generator().manual_seed(0)
    features = torch.relu(torch.randn(3, 6, 8, 8, generator=g)) + 0.01
    mask = attentive_drop_mask(features, 0.3, 0.5, torch.Generator().manual_seed(7))
    draw = torch.rand((3, 1, 8, 8), dtype=torch.float32, generator=torch.Generator().manual_seed(7))
    expected = ~(discriminative_region(features, 0.3) & (draw <= 0.5))
    assert torch.equal(mask, expected.float())
    erased = attentive_drop(features, 0.3, 0.5, torch.Generator().manual_seed(7))
    assert torch.equal(erased, features * expected.float())  # every channel shares the mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attentive_drop_equals_reference_module(seed: int) -> None:
    """Same global seed -> the same erased features as bridging-gap's ``AttentiveDrop(0.8, 0.5)``."""
    golden = np.load(GOLDEN)
    features = torch.from_numpy(golden["drop_features"])
    torch.manual_seed(seed)
    erased = attentive_drop(features, 0.8, 0.5)
    np.testing.assert_array_equal(erased.numpy(), golden[f"drop_seed{seed}"])


def test_generator_on_other_device_is_accepted() -> None:
    features = torch.rand(2, 3, 4, 4)
    out = attentive_drop(features, 0.5, 0.5, torch.Generator(device="cpu").manual_seed(1))
    assert out.shape == features.shape
