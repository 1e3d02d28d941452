"""The per-region feature norm / cosine diagnostic on hand-built feature maps."""

from __future__ import annotations

import math

import pytest
import torch

from wsolkit.metrics.feature_alignment import (
    REGIONS,
    RegionAlignment,
    cell_weights,
    head_body_background,
)


def test_norm_and_cosine_per_region_on_a_hand_built_map() -> None:
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # class 0 → e0, class 1 → e1
    features = torch.zeros(1, 3, 2, 2)
    features[0, :, 0, 0] = torch.tensor([4.0, 0.0, 0.0])  # head: along class 0, the largest norm
    features[0, :, 0, 1] = torch.tensor([0.0, 0.0, 2.0])  # body: orthogonal, half the norm
    features[0, :, 1, 0] = torch.tensor([-1.0, 0.0, 0.0])  # background: opposed, a quarter
    # features[0, :, 1, 1] stays 0: background without a direction
    regions = torch.zeros(1, 3, 2, 2)
    regions[0, 0, 0, 0] = 1.0
    regions[0, 1, 0, 1] = 1.0
    regions[0, 2, 1, 0] = regions[0, 2, 1, 1] = 1.0
    tally = RegionAlignment(REGIONS)
    tally.update(features, weights, torch.tensor([0]), regions)
    result = tally.result()
    assert result["head"] == {"norm": 1.0, "cosine": 1.0}
    assert result["body"] == {"norm": 0.5, "cosine": 0.0}
    # background: norms 0.25 and 0; the zero cell has no cosine and is left out of it
    assert result["background"] == {"norm": 0.125, "cosine": -1.0}


def test_the_class_weight_is_the_label_s_and_images_pool_by_weight() -> None:
    weights = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    features = torch.tensor([[[[1.0]], [[0.0]]], [[[3.0]], [[0.0]]]])  # 2 images, 1 cell each
    regions = torch.tensor([[[[1.0]]], [[[0.5]]]])  # one region; the second image counts half
    tally = RegionAlignment(("object",))
    tally.update(features, weights, torch.tensor([0, 1]), regions)
    result = tally.result()["object"]
    assert result["norm"] == pytest.approx(1.0)
    assert result["cosine"] == pytest.approx((1.0 + 0.5 * math.sqrt(0.5)) / 1.5)


def test_an_empty_region_is_nan() -> None:
    tally = RegionAlignment(("head",))
    tally.update(
        torch.ones(1, 2, 2, 2), torch.ones(1, 2), torch.tensor([0]), torch.zeros(1, 1, 2, 2)
    )
    assert math.isnan(tally.result()["head"]["norm"])
    assert math.isnan(tally.result()["head"]["cosine"])


def test_cells_weigh_the_share_of_their_pixels_and_regions_partition_the_image() -> None:
    objects = torch.zeros(1, 8, 8, dtype=torch.bool)
    objects[0, :4, :6] = True  # cell (0,0) full, (0,1) half
    parts = torch.zeros(1, 8, 8, dtype=torch.bool)
    parts[0, :2, :2] = True  # a quarter of cell (0,0)
    masks = head_body_background(objects, parts)
    cells = cell_weights(masks, (2, 2))
    assert cells[0, 0].tolist() == [[0.25, 0.0], [0.0, 0.0]]
    assert cells[0, 1].tolist() == [[0.75, 0.5], [0.0, 0.0]]
    assert cells[0, 2].tolist() == [[0.0, 0.5], [1.0, 1.0]]
    assert torch.equal(cells.sum(dim=1), torch.ones(1, 2, 2, dtype=torch.float64))
