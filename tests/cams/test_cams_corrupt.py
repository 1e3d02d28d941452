"""Damaged, truncated and foreign files give one clear line that names the file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from cams_helpers import smooth_maps, write_store

from wsolkit.cams import CamStore, CamStoreError


@pytest.fixture
def good_store(tmp_path: Path) -> Path:
    path = tmp_path / "good.h5"
    write_store(path, smooth_maps(300, 28), dtype="float32")
    return path


def open_error(path: Path) -> str:
    with pytest.raises(CamStoreError) as info:
        CamStore.open(path).close()
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: ") :]  # the path holds the test's name: check the rest


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.h5"
    path.write_bytes(np.random.default_rng(0).bytes(50_000))
    assert "not an HDF5 file" in open_error(path)


def test_truncated_to_half(good_store: Path) -> None:
    data = good_store.read_bytes()
    good_store.write_bytes(data[: len(data) // 2])
    assert "truncated" in open_error(good_store)


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in open_error(tmp_path / "nope.h5")


def test_foreign_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    assert "not a wsolkit CAM store" in open_error(path)


def test_newer_format_version(good_store: Path) -> None:
    with h5py.File(good_store, "r+") as f:
        f.attrs["format"] = "wsolkit-cams/2"
    assert "upgrade wsolkit" in open_error(good_store)


def test_missing_dataset(good_store: Path) -> None:
    with h5py.File(good_store, "r+") as f:
        del f["labels"]
    assert "dataset 'labels' is missing" in open_error(good_store)


def test_damaged_chunk_data_fails_on_read(good_store: Path) -> None:
    with h5py.File(good_store) as f:
        offset = f["cams"].id.get_chunk_info(5).byte_offset
    with open(good_store, "r+b") as fh:  # overwrite the middle of one compressed chunk
        fh.seek(offset + 100)
        fh.write(b"\xff" * 400)
    with CamStore.open(good_store) as store, pytest.raises(CamStoreError) as info:
        store.cams()
    message = str(info.value)
    assert message.startswith(f"{good_store}: rows 0..299 of 'cams' cannot be read")
    assert "\n" not in message


def test_writer_refuses_a_damaged_file_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "noise.h5"
    path.write_bytes(b"\0" * 1000)
    with pytest.raises(CamStoreError, match="not an HDF5 file"):
        write_store(path, smooth_maps(5, 7))
    write_store(path, smooth_maps(5, 7), overwrite=True)
    with CamStore.open(path) as store:
        assert store.complete
