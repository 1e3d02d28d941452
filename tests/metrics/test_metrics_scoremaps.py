"""normalize_scoremap, map checks and the two score-map folder layouts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wsolkit.errors import DataError
from wsolkit.metrics import ScoremapFolder, check_scoremap, normalize_scoremap
from wsolkit.metrics.scoremaps import NaNScoremapError, load_scoremap


def test_normalize_is_cubic_resize_then_min_max() -> None:
    cam = np.random.default_rng(0).standard_normal((14, 14)).astype(np.float32)
    out = normalize_scoremap(cam, 224)
    reference = cv2.resize(cam.astype(np.float64), (224, 224), interpolation=cv2.INTER_CUBIC)
    reference -= reference.min()
    reference /= reference.max()
    assert out.dtype == np.float64 and out.shape == (224, 224)
    np.testing.assert_array_equal(out, reference)
    assert out.min() == 0.0 and out.max() == 1.0


def test_normalize_size_is_height_width() -> None:
    assert normalize_scoremap(np.random.default_rng(1).random((7, 5)), (30, 20)).shape == (30, 20)


def test_normalize_nan_and_constant_maps_become_zeros() -> None:
    cam = np.ones((14, 14))
    cam[3, 3] = np.nan
    assert not normalize_scoremap(cam, 224).any()
    assert not normalize_scoremap(np.full((14, 14), 2.5), 224).any()


def test_check_casts_float32_and_rejects_bad_maps() -> None:
    good = check_scoremap(np.zeros((8, 8), np.float32), "m.npy", 8)
    assert good.dtype == np.float64
    with pytest.raises(DataError, match=r"m\.npy: score map must be 2-D"):
        check_scoremap(np.zeros((8, 8, 1)), "m.npy", 8)
    with pytest.raises(DataError, match=r"is 8x9, expected 8x8"):
        check_scoremap(np.zeros((8, 9)), "m.npy", 8)
    with pytest.raises(DataError, match=r"values must lie in \[0, 1\]"):
        check_scoremap(np.full((8, 8), 1.5), "m.npy", 8)
    with pytest.raises(DataError, match="dtype int64"):
        check_scoremap(np.zeros((8, 8), np.int64), "m.npy", 8)
    nan = np.zeros((8, 8))
    nan[0, :3] = np.nan
    with pytest.raises(NaNScoremapError) as info:
        check_scoremap(nan, "m.npy", 8)
    assert info.value.count == 3


def test_unreadable_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.npy"
    bad.write_text("not numpy")
    with pytest.raises(DataError, match=r"x\.npy: not a readable \.npy score map"):
        load_scoremap(bad, 8)


def _save(root: Path, name: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    np.save(root / name, np.zeros((4, 4)))


def test_folder_accepts_both_layouts_and_notes_extra_files(tmp_path: Path) -> None:
    _save(tmp_path, "123/456.JPEG.npy")  # canonical: <id>.npy
    _save(tmp_path, "123/789.npy")  # README / --save_cam: <id without extension>.npy
    _save(tmp_path, "other/stray.npy")
    folder = ScoremapFolder.scan(tmp_path, ["123/456.JPEG", "123/789.JPEG"])
    assert folder.paths == {
        "123/456.JPEG": tmp_path / "123/456.JPEG.npy",
        "123/789.JPEG": tmp_path / "123/789.npy",
    }
    assert folder.extra == 1 and folder.extra_examples == ["other/stray.npy"]


def test_folder_rejects_an_id_found_both_ways(tmp_path: Path) -> None:
    _save(tmp_path, "a/b.jpg.npy")
    _save(tmp_path, "a/b.npy")
    with pytest.raises(DataError, match="has a score map in both layouts"):
        ScoremapFolder.scan(tmp_path, ["a/b.jpg"])


def test_folder_lists_how_many_maps_are_missing(tmp_path: Path) -> None:
    _save(tmp_path, "a/0.jpg.npy")
    ids = [f"a/{i}.jpg" for i in range(9)]
    with pytest.raises(DataError, match=r"8 of 9 image ids have no score map .* e\.g\. 'a/1\.jpg'"):
        ScoremapFolder.scan(tmp_path, ids)
