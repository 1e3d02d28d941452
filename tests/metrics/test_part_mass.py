from __future__ import annotations

import numpy as np
import pytest

from wsolkit.metrics.part_mass import part_mass, upsample_cam


def test_shares_by_hand() -> None:
    cam = np.zeros((4, 4))
    cam[0, 0] = 3.0  # on the part
    cam[1, 1] = 1.0  # on the object, off the part
    cam[3, 3] = 4.0  # background
    cam[2, 2] = -5.0  # negative mass does not count
    obj = np.zeros((4, 4), bool)
    obj[:2, :2] = True
    part = np.zeros((4, 4), bool)
    part[0, 0] = True
    result = part_mass([(cam, obj, part)])
    assert result.part_share == pytest.approx(100 * 3 / 8)
    assert result.object_share == pytest.approx(100 * 4 / 8)
    assert result.part_of_object == pytest.approx(100 * 3 / 4)
    assert result.images == 1


def test_images_without_positive_mass_are_left_out_of_each_mean() -> None:
    obj = np.ones((2, 2), bool)
    part = np.zeros((2, 2), bool)
    part[0, 0] = True
    empty = (np.full((2, 2), -1.0), obj, part)
    all_on_part = (np.array([[2.0, 0.0], [0.0, 0.0]]), obj, part)
    result = part_mass([empty, all_on_part])
    assert (result.part_share, result.part_of_object, result.images) == (100.0, 100.0, 1)


def test_upsampling_is_bicubic_float64_without_normalization() -> None:
    cam = np.arange(16, dtype=np.float16).reshape(4, 4) - 3
    up = upsample_cam(cam, 8)
    assert up.dtype == np.float64 and up.shape == (8, 8)
    assert up.min() < 0  # not min-max normalized
