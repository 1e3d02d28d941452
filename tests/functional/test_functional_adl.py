"""ADL functions: drop mask, importance map, the per-call map choice, golden values.

The golden values (``adl_*`` in data/reference_golden.npz) are wsolevaluation's
``ADL`` layer. Regenerate with: ``python tests/parity/regenerate_functional_goldens.py
--bridging-gap PATH --wsolevaluation PATH`` (your own clones; ``--check`` compares).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsolkit.functional import adl_drop_mask, adl_importance_map, attention_based_dropout

GOLDEN = Path(__file__).parent / "data" / "reference_golden.npz"


def test_drop_mask_hand_values() -> None:
    attention = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 5)
    # 0.75 · 4 = 3: positions strictly below 3 are kept (1), 3 and 4 are dropped.
    assert adl_drop_mask(attention, 0.75).flatten().tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    torch.testing.assert_close(adl_importance_map(attention), torch.sigmoid(attention))


def test_map_choice_follows_one_cpu_draw() -> None:
    features = torch.relu(torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(3)))
    attention = features.mean(dim=1, keepdim=True)
    for seed in range(6):
        draw = torch.rand([], generator=torch.Generator().manual_seed(seed)).item()
        out = attention_based_dropout(features, 0.75, 0.9, torch.Generator().manual_seed(seed))
        chosen = adl_drop_mask(attention, 0.9) if draw + 0.75 >= 1 else torch.sigmoid(attention)
        torch.testing.assert_close(out, features * chosen, rtol=0, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_reference_layer(seed: int) -> None:
    """Same global seed -> wsolevaluation's ``ADL(0.75, 0.9)`` output (seeds 0–2 drop, 3 keeps)."""
    golden = np.load(GOLDEN)
    features = torch.from_numpy(golden["adl_features"])
    torch.manual_seed(seed)
    out = attention_based_dropout(features, 0.75, 0.9)
    np.testing.assert_array_equal(out.numpy(), golden[f"adl_seed{seed}"])
