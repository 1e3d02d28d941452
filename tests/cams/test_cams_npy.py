"""Score-map folders (wsolevaluation's .npy per image) into stores and back out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cams_helpers import smooth_maps, write_store

from wsolkit.cams import CamStore
from wsolkit.cams.npy import export_npy, import_scoremaps, scoremap_path
from wsolkit.data.metadata import SplitMetadata, write_split
from wsolkit.errors import DataError

IDS = [
    "001.Albatross/a_1.jpg",
    "001.Albatross/a_2.jpg",
    "002.Auklet/b_1.JPEG",
    "002.Auklet/b_2.png",
]


def normalized(maps: np.ndarray) -> np.ndarray:
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)


@pytest.fixture
def metadata(tmp_path: Path) -> Path:
    folder = tmp_path / "metadata" / "test"
    labels = {image_id: n // 2 for n, image_id in enumerate(IDS)}
    write_split(folder, SplitMetadata(list(IDS), labels, {i: (500, 400) for i in IDS}))
    return folder


def write_folder(folder: Path, maps: np.ndarray, layouts: list[str]) -> list[Path]:
    paths = []
    for image_id, scoremap, layout in zip(IDS, maps, layouts, strict=True):
        path = scoremap_path(folder, image_id, layout)  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, scoremap)
        paths.append(path)
    return paths


@pytest.mark.parametrize("out_layout", ["with-ext", "without-ext"])
def test_import_then_export_gives_back_the_same_files(
    tmp_path: Path, metadata: Path, out_layout: str
) -> None:
    maps = normalized(smooth_maps(4, 32).astype(np.float64))
    originals = write_folder(tmp_path / "in", maps, ["with-ext", "without-ext"] * 2)  # mixed
    result = import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5")
    assert (result.rows, result.imported, result.dtype) == (4, 4, "float64")
    with CamStore.open(tmp_path / "s.h5") as store:
        assert store.resolution == "full" and not store.has_predictions
        assert store.ids == IDS and store.labels.tolist() == [0, 0, 1, 1]
        assert store.eval_size == 32 and store.provenance.split == "test"
    exported = export_npy(tmp_path / "s.h5", tmp_path / "out", layout=out_layout)  # type: ignore[arg-type]
    assert exported.files == 4 and exported.complete
    for image_id, original in zip(IDS, originals, strict=True):
        path = scoremap_path(tmp_path / "out", image_id, out_layout)  # type: ignore[arg-type]
        back, first = np.load(path), np.load(original)
        assert back.dtype == np.float64 and back.shape == (32, 32)
        assert back.tobytes() == first.tobytes()  # bit for bit
    assert not list((tmp_path / "out").rglob("*.tmp"))  # atomic writes leave nothing behind


def test_float32_folders_stay_float32_and_exact(tmp_path: Path, metadata: Path) -> None:
    maps = normalized(smooth_maps(4, 16)).astype(np.float32)
    write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    assert import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5").dtype == "float32"
    export_npy(tmp_path / "s.h5", tmp_path / "out")
    for image_id, scoremap in zip(IDS, maps, strict=True):
        back = np.load(scoremap_path(tmp_path / "out", image_id, "with-ext"))
        assert back.dtype == np.float64 and np.array_equal(back, scoremap.astype(np.float64))


def test_export_of_raw_cams_normalizes_at_eval_size(tmp_path: Path) -> None:
    cams = smooth_maps(5, 14)
    write_store(tmp_path / "raw.h5", cams, dtype="float32")
    result = export_npy(tmp_path / "raw.h5", tmp_path / "out", eval_size=56)
    assert result.eval_size == 56
    with CamStore.open(tmp_path / "raw.h5") as store:
        for i, image_id in enumerate(store.ids):
            saved = np.load(scoremap_path(tmp_path / "out", image_id, "with-ext"))
            assert np.array_equal(saved, store.scoremap(i, 56))


def test_both_layouts_for_one_image_is_an_error(tmp_path: Path, metadata: Path) -> None:
    maps = normalized(smooth_maps(4, 8).astype(np.float64))
    write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    np.save(scoremap_path(tmp_path / "in", IDS[2], "without-ext"), maps[2])
    with pytest.raises(DataError, match=r"'002.Auklet/b_1.JPEG' has a score map in both layouts"):
        import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()


def test_missing_maps_are_counted(tmp_path: Path, metadata: Path) -> None:
    maps = normalized(smooth_maps(4, 8).astype(np.float64))
    paths = write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    paths[1].unlink()
    paths[3].unlink()
    with pytest.raises(DataError, match=r"2 of 4 image ids have no score map.*'001.Albatross/a_2"):
        import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5")


def test_extra_files_are_ignored_and_counted(tmp_path: Path, metadata: Path) -> None:
    maps = normalized(smooth_maps(4, 8).astype(np.float64))
    write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    np.save(tmp_path / "in" / "stray.npy", maps[0])
    assert import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5").ignored == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: m * 2, r"values must lie in \[0, 1\], found min 0.0 and max 2.0"),
        (lambda m: np.where(m > 0.5, np.nan, m), r"holds \d+ NaN"),
        (lambda m: m[None], "must be 2-D"),
        (lambda m: (m * 255).astype(np.uint8), "is not float16/32/64"),
        (lambda m: m[:, :5], "square"),
    ],
)
def test_invalid_maps_name_the_file(tmp_path: Path, metadata: Path, damage, message: str) -> None:
    maps = normalized(smooth_maps(4, 8).astype(np.float64))
    paths = write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    np.save(paths[0], damage(maps[0]))
    with pytest.raises(DataError, match=message) as info:
        import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5")
    assert str(paths[0]) in str(info.value)


def test_export_refuses_a_folder_that_would_hold_both_layouts(tmp_path: Path) -> None:
    write_store(tmp_path / "raw.h5", smooth_maps(3, 7), ids=["a.jpg", "b.jpg", "c.jpg"])
    (tmp_path / "out").mkdir()
    np.save(tmp_path / "out" / "b.npy", np.zeros((2, 2)))
    with pytest.raises(DataError, match="would hold both layouts"):
        export_npy(tmp_path / "raw.h5", tmp_path / "out", layout="with-ext")


def test_export_refuses_ids_that_leave_the_folder(tmp_path: Path) -> None:
    write_store(tmp_path / "raw.h5", smooth_maps(1, 7), ids=["../escape.jpg"])
    with pytest.raises(DataError, match="outside"):
        export_npy(tmp_path / "raw.h5", tmp_path / "out")
    assert not (tmp_path / "escape.jpg.npy").exists()


def test_interrupted_import_resumes(tmp_path: Path, metadata: Path) -> None:
    maps = normalized(smooth_maps(4, 8).astype(np.float64))
    paths = write_folder(tmp_path / "in", maps, ["with-ext"] * 4)
    np.save(paths[3], maps[3] + 5)  # the last map is bad: the import stops there
    with pytest.raises(DataError):
        import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5", batch=2)
    with CamStore.open(tmp_path / "s.h5") as store:
        assert len(store) == 2 and not store.complete
    np.save(paths[3], maps[3])
    result = import_scoremaps(tmp_path / "in", metadata, tmp_path / "s.h5", batch=2)
    assert (result.resumed_from, result.imported, result.rows) == (2, 2, 4)
