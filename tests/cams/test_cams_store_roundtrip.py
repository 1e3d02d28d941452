"""Write -> read round trips of the CAM store: ids, labels, predictions, maps, score maps."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from cams_helpers import SHA, image_ids, predictions, provenance, smooth_maps, write_store

from wsolkit.cams import FORMAT, CamBatch, CamStore, CamStoreError, CamStoreWriter
from wsolkit.cams.schema import chunk_rows_for, encode_chunk


def spec_scoremap(cam: np.ndarray, size: int) -> np.ndarray:
    """SPEC §2.2 written out step by step, independently of the library."""
    m = cv2.resize(cam.astype(np.float64), (size, size), interpolation=cv2.INTER_CUBIC)
    if np.isnan(m).any() or m.min() == m.max():
        return np.zeros((size, size))
    m = m - m.min()
    return m / m.max()


@pytest.mark.parametrize("batch", [1, 7, 32, 333])
def test_float32_round_trip_is_exact(store_factory, batch: int) -> None:
    cams = smooth_maps(333, 14, seed=batch)  # 333 is no multiple of the 64-row chunks
    top5 = predictions(333)
    path = store_factory(cams, batch=batch, dtype="float32", top5=top5)
    with CamStore.open(path) as store:
        assert store.complete and len(store) == store.total == 333
        assert store.ids == image_ids(333)
        assert np.array_equal(store.labels, np.arange(333) % 1000)
        assert np.array_equal(store.cams(), cams)
        classes, scores = store.top5
        assert np.array_equal(classes, top5[0]) and np.array_equal(scores, top5[1])
        rows = list(store)
        assert [r.index for r in rows] == list(range(333))
        assert rows[100].image_id == image_ids(333)[100]
        assert rows[100].top1 == top5[0][100, 0]
        assert np.array_equal(rows[100].cam, cams[100])


def test_float16_round_trip_is_float16_rounding(store_factory) -> None:
    cams = smooth_maps(100, 28)
    path = store_factory(cams)  # float16 is the default for raw CAMs
    with CamStore.open(path) as store:
        stored = store.cams()
        assert stored.dtype == np.float16
        assert np.array_equal(stored, cams.astype(np.float16))
        assert np.allclose(stored, cams, rtol=2**-11, atol=2**-24)


def test_scoremaps_follow_spec_normalization(store_factory) -> None:
    cams = smooth_maps(40, 14, seed=3)
    cams[5] = 7.0  # constant -> zeros
    cams[6, 3, 4] = np.nan  # NaN -> zeros
    path = store_factory(cams, dtype="float32", provenance=provenance(eval_size=224))
    with CamStore.open(path) as store:
        maps = list(store.scoremaps())
        assert len(maps) == 40
        for i, (image_id, scoremap, label, top1) in enumerate(maps):
            assert image_id == store.ids[i] and label == i and top1 is not None
            assert scoremap.shape == (224, 224) and scoremap.dtype == np.float64
            assert np.array_equal(scoremap, spec_scoremap(cams[i], 224))
        assert not maps[5].scoremap.any() and not maps[6].scoremap.any()
        assert maps[0].scoremap.min() == 0.0 and maps[0].scoremap.max() == 1.0
        assert np.array_equal(store.scoremap(9, 64), spec_scoremap(cams[9], 64))


def test_full_resolution_maps_are_used_as_stored(store_factory) -> None:
    maps = np.stack([spec_scoremap(c, 56) for c in smooth_maps(20, 14)])
    path = store_factory(
        maps, resolution="full", dtype="float64", provenance=provenance(eval_size=56)
    )
    with CamStore.open(path) as store:
        assert store.resolution == "full" and store.map_shape == (56, 56)
        assert all(np.array_equal(r.scoremap, maps[i]) for i, r in enumerate(store.scoremaps()))
        with pytest.raises(CamStoreError, match="cannot evaluate them at 224"):
            store.scoremap(0, 224)


def test_topk_cams_and_short_predictions(tmp_path: Path) -> None:
    n = 50
    cams = smooth_maps(n, 7)
    topk = np.stack([cams, -cams], axis=1)
    classes, scores = np.tile([[2, 0, 1]], (n, 1)), np.tile([[0.7, 0.2, 0.1]], (n, 1))
    writer = CamStoreWriter.open_or_resume(
        tmp_path / "k.h5",
        ids=image_ids(n),
        labels=np.zeros(n, int),
        provenance=provenance(),
        map_shape=(7, 7),
        topk=2,
        dtype="float32",
    )
    with writer:
        for a in range(0, n, 16):
            writer.put(
                CamBatch(
                    cams[a : a + 16], classes[a : a + 16], scores[a : a + 16], topk[a : a + 16]
                )
            )
    with CamStore.open(tmp_path / "k.h5") as store:
        assert np.array_equal(store.topk_cams(), topk)
        got_classes, got_scores = store.top5
        assert got_classes[0].tolist() == [2, 0, 1, -1, -1]  # 3 classes: padded with -1
        assert np.isnan(got_scores[0, 3:]).all()


def test_provenance_and_schema_attributes(store_factory) -> None:
    path = store_factory(smooth_maps(10, 14), provenance=provenance(extra={"epoch": 70}))
    with CamStore.open(path) as store:
        p = store.provenance
        assert store.format == FORMAT
        assert p.checkpoint_sha256 == SHA and p.backbone == "vgg16" and p.split == "test"
        assert json.loads(p.settings) == {"model": {"backbone": "vgg16"}, "optim": {"lr": 0.004}}
        assert p.input_size == 224 and p.eval_size == 224 and p.extra == {"epoch": 70}
        assert p.created.endswith("Z") and p.wsolkit_version
    with h5py.File(path) as f:  # readable by any HDF5 reader, documented names
        assert f.attrs["format"] == "wsolkit-cams/1"
        assert f.attrs["rows_done"] == f.attrs["rows_total"] == 10 and f.attrs["complete"]
        assert f.attrs["resolution"] == "raw" and "SPEC 2.2" in f.attrs["score_semantics"]
        assert f["image_ids"][0].decode() == image_ids(10)[0]
        assert f["cams"].compression == "gzip" and f["cams"].shuffle
        assert f["cams"].chunks == (10, 14, 14)


def test_direct_chunks_decode_with_hdf5_filters(tmp_path: Path) -> None:
    """Our shuffle+deflate bytes are what HDF5's own filter pipeline decodes."""
    block = smooth_maps(3, 9).astype(np.float64)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        d = f.create_dataset(
            "x", (3, 9, 9), "<f8", chunks=(3, 9, 9), compression="gzip", shuffle=True
        )
        d.id.write_direct_chunk((0, 0, 0), encode_chunk(block))
        assert np.array_equal(d[:], block)


def test_chunk_rows_rule() -> None:
    assert chunk_rows_for(28 * 28 * 2) == 20
    assert chunk_rows_for(14 * 14 * 2) == 64
    assert chunk_rows_for(224 * 224 * 4) == 1


def test_imagenet_size_target(tmp_path: Path) -> None:
    """50,000 raw 28×28 float16 CAMs (with ids, labels and top-5) stay under 100 MB."""
    n = 2000
    cams = smooth_maps(n, 28)
    path = tmp_path / "size.h5"
    write_store(path, cams, batch=256)
    per_image = path.stat().st_size / n
    assert per_image * 50_000 < 100e6, per_image
    assert per_image < 28 * 28 * 2 + 100  # compressed maps plus small per-row metadata
    npy_per_image = 224 * 224 * 8 + 128  # what the one-.npy-per-image layout costs
    assert npy_per_image / per_image > 200


def test_incomplete_store_is_readable_and_says_so(tmp_path: Path) -> None:
    n, cams = 100, smooth_maps(100, 14)
    classes, scores = predictions(n)
    writer = CamStoreWriter.open_or_resume(
        tmp_path / "part.h5",
        ids=image_ids(n),
        labels=np.arange(n),
        provenance=provenance(),
        map_shape=(14, 14),
        dtype="float32",
    )
    with writer:
        writer.put(CamBatch(cams[:30], classes[:30], scores[:30]))
    with CamStore.open(tmp_path / "part.h5") as store:
        assert not store.complete and len(store) == 30 and store.total == 100
        assert store.ids == image_ids(n)[:30] and len(store.planned_ids) == 100
        assert np.array_equal(store.cams(), cams[:30])
        assert len(list(store.rows())) == 30
        with pytest.raises(CamStoreError, match=r"incomplete \(30 of 100 rows\)"):
            next(store.scoremaps())
        assert len(list(store.scoremaps(allow_incomplete=True))) == 30
        with pytest.raises(IndexError):
            store.cams(0, 31)
