"""A store evaluates exactly like the same maps in memory or in a score-map folder."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from cams_helpers import predictions, provenance, smooth_maps, write_store

from wsolkit.cams import CamStoreError, CamStoreSource
from wsolkit.cams.npy import import_scoremaps
from wsolkit.data.metadata import SplitMetadata, write_split
from wsolkit.metrics import (
    EvalProtocol,
    FolderSource,
    ScoremapFolder,
    evaluate_scoremaps,
    normalize_scoremap,
)

SIZE, N = 32, 40  # N > 32: two chunks, so workers=2 really spawns a pool


@pytest.fixture
def split(tmp_path: Path) -> SplitMetadata:
    rng = np.random.default_rng(5)
    ids = [f"c{i % 3}/img_{i}.jpg" for i in range(N)]
    boxes = {}
    for image_id in ids:
        x0, y0 = rng.integers(0, 40, 2)
        w, h = rng.integers(8, 24, 2)
        boxes[image_id] = [(int(x0), int(y0), int(x0 + w), int(y0 + h))]
    meta = SplitMetadata(
        ids, {i: n % 3 for n, i in enumerate(ids)}, dict.fromkeys(ids, (64, 64)), boxes
    )
    write_split(tmp_path / "meta" / "test", meta)
    meta.folder = tmp_path / "meta" / "test"
    return meta


class MemorySource:
    """The same CAMs, normalized in memory (what evaluation does without a store), and the
    classes ``write_store`` predicts for them."""

    def __init__(self, ids: list[str], cams: np.ndarray) -> None:
        self.maps = {i: normalize_scoremap(c, SIZE) for i, c in zip(ids, cams, strict=True)}
        classes = predictions(len(ids))[0]
        self.top5 = dict(zip(ids, classes, strict=True))

    def describe(self) -> str:
        return "memory"

    def load(self, image_id: str) -> np.ndarray:
        return self.maps[image_id]

    def predictions(self, image_ids: list[str]) -> np.ndarray:
        return np.stack([self.top5[i] for i in image_ids])


def evaluate(source, split: SplitMetadata, workers: int = 1) -> dict:
    protocol = EvalProtocol(eval_size=SIZE, cam_curve_interval=0.01)
    return evaluate_scoremaps(source, split, protocol, workers=workers).to_dict()


def test_raw_store_evaluates_like_the_cams_in_memory(tmp_path: Path, split: SplitMetadata) -> None:
    cams = smooth_maps(N, 8, grid=3)
    path = tmp_path / "raw.h5"
    write_store(
        path, cams, ids=split.image_ids, dtype="float32", provenance=provenance(eval_size=SIZE)
    )
    expected = evaluate(MemorySource(split.image_ids, cams), split)
    with CamStoreSource(path) as source:
        assert source.size == SIZE
        assert evaluate(source, split) == expected
        clone = pickle.loads(pickle.dumps(source))  # what worker processes receive
        assert np.array_equal(clone.load(split.image_ids[3]), source.load(split.image_ids[3]))
    assert evaluate(CamStoreSource(path), split, workers=2) == expected
    assert expected["max_box_acc_v2"] > 0  # the comparison is not between two empty results


def test_imported_folder_evaluates_like_the_folder(tmp_path: Path, split: SplitMetadata) -> None:
    maps = smooth_maps(N, SIZE)
    maps = (maps - maps.min(axis=(1, 2), keepdims=True)) / np.ptp(maps, axis=(1, 2), keepdims=True)
    for image_id, scoremap in zip(split.image_ids, maps.astype(np.float64), strict=True):
        (tmp_path / "maps" / image_id).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "maps" / f"{image_id}.npy", scoremap)
    import_scoremaps(tmp_path / "maps", split.folder, tmp_path / "full.h5")
    folder = FolderSource(ScoremapFolder.scan(tmp_path / "maps", split.image_ids), SIZE)
    with CamStoreSource(tmp_path / "full.h5") as source:
        assert evaluate(source, split) == evaluate(folder, split)


def test_source_errors(tmp_path: Path, split: SplitMetadata) -> None:
    path = tmp_path / "raw.h5"
    write_store(path, smooth_maps(N, 8), ids=split.image_ids, provenance=provenance(eval_size=SIZE))
    with (
        CamStoreSource(path) as source,
        pytest.raises(CamStoreError, match="no CAM for image 'x.jpg'"),
    ):
        source.load("x.jpg")
    with pytest.raises(CamStoreError, match="not found"):
        CamStoreSource(tmp_path / "none.h5")
