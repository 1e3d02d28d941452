"""The synthetic benchmark generator: determinism, layout, measured properties, cache."""

from __future__ import annotations

import colorsys
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from wsolkit import registry
from wsolkit.data.metadata import read_split
from wsolkit.data.prepare import synthetic as syn
from wsolkit.data.prepare.synthetic_draw import (
    _distractors,
    hsv_to_rgb,
    inclusive_box,
    render_sample,
)
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError, MetadataError, SettingsError

K = 10
SPLITS = ("train", "val", "test")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.ndim == 2, path
    return image


def _rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]


def _hue(pixels: np.ndarray) -> float:
    """Hue in [0, 1) of the mean colour of N×3 RGB pixels."""
    r, g, b = pixels.reshape(-1, 3).mean(axis=0) / 255
    return colorsys.rgb_to_hsv(r, g, b)[0]


def _hue_matches(hue: float, label: int, classes: int = K) -> bool:
    """The hue is nearer to class ``label``'s hue ``label/K`` than to any other class's."""
    d = abs(hue - label / classes) % 1.0
    return min(d, 1 - d) < 0.5 / classes


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "ds"
    syn.prepare_synthetic(out, train=40, val=10, test=20)
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 training images to measure the design's properties on."""
    out = tmp_path_factory.mktemp("sample") / "ds"
    syn.prepare_synthetic(out, seed=0, train=600, val=10, test=10)
    return out


def _train_arrays(
    out: Path,
) -> tuple[list[int], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    meta = read_split(out / "train", num_classes=K, require_localization=True)
    labels = [meta.labels[i] for i in meta.image_ids]
    images = [_rgb(out / "images" / i) for i in meta.image_ids]
    objects = [_gray(out / "masks" / "train" / Path(i).name) > 0 for i in meta.image_ids]
    parts = [_gray(out / "parts" / "train" / Path(i).name) > 0 for i in meta.image_ids]
    return labels, images, objects, parts


# --- determinism -------------------------------------------------------------------------


def test_same_parameters_give_the_same_bytes(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    syn.prepare_synthetic(again, train=40, val=10, test=20)
    first, second = _files(small), _files(again)
    assert len(first) == 3 * 70 + 3 * 6 + 2  # PNGs, 6 metadata files per split, params, manifest
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_another_seed_gives_other_images_and_the_same_labels(small: Path, tmp_path: Path) -> None:
    other = tmp_path / "seed1"
    syn.prepare_synthetic(other, seed=1, train=40, val=10, test=20)
    images = [p.relative_to(small) for p in sorted((small / "images").rglob("*.png"))]
    assert all((small / p).read_bytes() != (other / p).read_bytes() for p in images)
    for split in SPLITS:
        assert (small / split / "class_labels.txt").read_bytes() == (
            other / split / "class_labels.txt"
        ).read_bytes()


def test_split_seeds_follow_the_design(small: Path) -> None:
    """Image i of split k is drawn from child i of SeedSequence(1000·seed + k)."""
    for split, offset in (("train", 1), ("val", 2), ("test", 3)):
        child = np.random.SeedSequence(offset).spawn(3)[2]
        expected = render_sample(np.random.Generator(np.random.PCG64(child)), 2)
        assert np.array_equal(_rgb(small / "images" / split / "000002.png"), expected.image)
        assert np.array_equal(
            _gray(small / "masks" / split / "000002.png") > 0, expected.object_mask
        )
        assert np.array_equal(_gray(small / "parts" / split / "000002.png") > 0, expected.part_mask)


def test_a_smaller_split_is_a_prefix_of_a_larger_one(small: Path, tmp_path: Path) -> None:
    fewer = tmp_path / "fewer"
    syn.prepare_synthetic(fewer, train=15, val=3, test=4)
    for split, count in (("train", 15), ("val", 3), ("test", 4)):
        for kind in ("images", "masks", "parts"):
            for path in sorted((fewer / kind / split).iterdir()):
                assert path.read_bytes() == (small / kind / split / path.name).read_bytes()
        ids = (fewer / split / "image_ids.txt").read_text().splitlines()
        assert ids == (small / split / "image_ids.txt").read_text().splitlines()[:count]


# --- layout and metadata -----------------------------------------------------------------


def test_metadata_reads_back_with_boxes_masks_and_parts(small: Path) -> None:
    manifest = read_manifest(small)
    assert manifest.dataset == "synthetic" and manifest.annotation == "boxes"
    assert manifest.num_classes == K and manifest.class_names == [f"class{k}" for k in range(K)]
    assert manifest.eval_size == 64 and manifest.splits == {"train": 40, "val": 10, "test": 20}
    image_root = manifest.resolve(small, manifest.image_root)
    mask_root = manifest.resolve(small, manifest.mask_root)
    assert image_root == (small / "images").resolve() and mask_root == small.resolve()
    assert json.loads((small / "params.json").read_text())["generator"] == "v3a"
    for split, count in manifest.splits.items():
        meta = read_split(small / split, num_classes=K, require_localization=True)
        assert len(meta) == count and meta.boxes is not None and meta.masks is not None
        parts = syn.read_part_masks(small / split)
        assert list(parts) == meta.image_ids
        for image_id in meta.image_ids:
            assert meta.sizes[image_id] == (64, 64)
            assert _rgb(image_root / image_id).shape == (64, 64, 3)
            annotation = meta.masks[image_id]
            assert len(annotation.mask_paths) == 1 and annotation.ignore_path is None
            mask = _gray(mask_root / annotation.mask_paths[0])
            part = _gray(mask_root / parts[image_id])
            assert set(np.unique(mask)) == {0, 255} and set(np.unique(part)) == {0, 255}
            assert not np.any((part > 0) & (mask == 0)), "the part lies inside the object"
            assert meta.boxes[image_id] == [inclusive_box(mask > 0)]


def test_boxes_are_the_inclusive_bounding_boxes_of_the_masks(sample: Path) -> None:
    meta = read_split(sample / "train", require_localization=True)
    for image_id in meta.image_ids:
        mask = _gray(sample / "masks" / image_id) > 0
        ((x0, y0, x1, y1),) = meta.boxes[image_id]
        rows, cols = np.nonzero(mask)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max(), rows.max())
        assert mask[y0, :].any() and mask[y1, :].any() and mask[:, x0].any() and mask[:, x1].any()


def test_labels_are_balanced(sample: Path) -> None:
    meta = read_split(sample / "train", num_classes=K)
    assert Counter(meta.labels.values()) == {k: 60 for k in range(K)}


def test_summary_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    summary = syn.prepare_synthetic(
        tmp_path / "p",
        train=120,
        val=7,
        test=3,
        classes=4,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[0] == (0, 130) and calls[-1] == (130, 130)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert {s: (x.images, x.classes, x.boxes) for s, x in summary.splits.items()} == {
        "train": (120, 4, 120),
        "val": (7, 4, 7),
        "test": (3, 3, 3),
    }
    assert summary.dataset == "synthetic" and summary.annotation == "boxes"


def test_other_sizes_and_class_counts(tmp_path: Path) -> None:
    syn.prepare_synthetic(tmp_path / "big", train=8, val=2, test=2, image_size=96, classes=4)
    meta = read_split(tmp_path / "big" / "train", num_classes=4, require_localization=True)
    assert set(meta.sizes.values()) == {(96, 96)} and set(meta.labels.values()) == {0, 1, 2, 3}
    assert read_manifest(tmp_path / "big").eval_size == 96


# --- properties of the design (measured on 600 images) -----------------------------------


def test_object_and_part_areas_match_the_design(sample: Path) -> None:
    """SYNTHETIC.md: object 26% of the image, box 40% (5–95th pct 32–51%), head 6.0% of the object."""
    _, _, objects, parts = _train_arrays(sample)
    object_share = np.mean([o.mean() for o in objects])
    head_share = np.mean([p.sum() / o.sum() for o, p in zip(objects, parts, strict=True)])
    boxes = [inclusive_box(o) for o in objects]
    box_share = np.array([(x1 - x0 + 1) * (y1 - y0 + 1) / 64**2 for x0, y0, x1, y1 in boxes])
    on_border = np.mean([min(b[:2]) == 0 or max(b[2:]) == 63 for b in boxes])
    assert 0.24 <= object_share <= 0.28, object_share
    assert 0.05 <= head_share <= 0.07, head_share
    assert 0.38 <= box_share.mean() <= 0.43, box_share.mean()
    low, high = np.percentile(box_share, [5, 95])
    assert 0.29 <= low <= 0.35 and 0.48 <= high <= 0.54, (low, high)
    assert 0.03 <= on_border <= 0.15, on_border
    # Every head is a real disc of radius about 4 px, not a speck.
    assert min(p.sum() for p in parts) >= 35


def test_the_head_decides_the_class_and_the_body_only_hints(sample: Path) -> None:
    """Head hue gives the label in 95% of images; body hue in 65% + 35%/K ≈ 68.5%."""
    labels, images, objects, parts = _train_arrays(sample)
    head = np.mean(
        [_hue_matches(_hue(im[p]), y) for y, im, p in zip(labels, images, parts, strict=True)]
    )
    body = np.mean(
        [
            _hue_matches(_hue(im[o & ~p]), y)
            for y, im, o, p in zip(labels, images, objects, parts, strict=True)
        ]
    )
    assert 0.925 <= head <= 0.975, head
    assert 0.62 <= body <= 0.75, body
    assert head - body >= 0.2


def test_latent_rates_match_the_design() -> None:
    samples = [render_sample(np.random.default_rng(i), i % K) for i in range(1000)]
    head = np.mean([s.head_class == s.label for s in samples])
    body = np.mean([s.body_hue_informative for s in samples])
    assert 0.93 <= head <= 0.97 and 0.61 <= body <= 0.69, (head, body)
    wrong = Counter(s.head_class for s in samples if s.head_class != s.label and s.label == 0)
    assert 0 not in wrong


def test_distractors_are_never_as_saturated_as_the_head() -> None:
    distractor_saturation, head_saturation = [], []
    for i in range(300):
        s = render_sample(np.random.default_rng(10_000 + i), i % K)
        assert not np.any((s.distractor_map > 0) & s.object_mask)
        pixels = s.image.astype(float)
        for k in np.unique(s.distractor_map[s.distractor_map > 0]):
            shown = s.distractor_map == k
            if shown.sum() >= 10:  # the mean colour of a few noisy pixels says little
                r, g, b = pixels[shown].mean(axis=0) / 255
                distractor_saturation.append(colorsys.rgb_to_hsv(r, g, b)[1])
        r, g, b = pixels[s.part_mask].mean(axis=0) / 255
        head_saturation.append(colorsys.rgb_to_hsv(r, g, b)[1])
    assert len(distractor_saturation) > 300
    assert max(distractor_saturation) < 0.4 < 0.8 < min(head_saturation)


def test_masks_are_exactly_the_painted_pixels() -> None:
    """On the noise-free image: the head is one colour, the body two (stripes), each distractor one."""
    for i in range(100):
        s = render_sample(np.random.default_rng(20_000 + i), i % K, noise=False)
        colours = s.image.reshape(-1, 3)
        flat_part = s.part_mask.ravel()
        head = np.unique(colours[flat_part], axis=0)
        assert len(head) == 1
        assert not np.any(np.all(colours[~flat_part] == head[0], axis=1))
        body = np.unique(colours[(s.object_mask & ~s.part_mask).ravel()], axis=0)
        assert len(body) == 2
        for k in np.unique(s.distractor_map[s.distractor_map > 0]):
            assert len(np.unique(colours[(s.distractor_map == k).ravel()], axis=0)) == 1
        noisy = render_sample(np.random.default_rng(20_000 + i), i % K)
        assert np.array_equal(noisy.part_mask, s.part_mask)
        assert np.abs(noisy.image.astype(int) - s.image).mean() < 5


def test_every_image_has_two_to_four_distractors_drawn() -> None:
    counts = Counter()
    for i in range(300):
        canvas = np.zeros((64, 64, 3))
        layers = np.zeros((64, 64), np.uint8)
        _distractors(np.random.default_rng(i), canvas, layers)
        counts[int(layers.max())] += 1
    assert set(counts) <= {2, 3, 4} and min(counts.values()) > 60


def test_hsv_to_rgb_matches_colorsys() -> None:
    rng = np.random.default_rng(0)
    h, s, v = rng.uniform(-0.5, 1.5, 500), rng.uniform(0, 1, 500), rng.uniform(0, 1, 500)
    expected = (
        np.array([colorsys.hsv_to_rgb(x % 1, y, z) for x, y, z in zip(h, s, v, strict=True)]) * 255
    )
    np.testing.assert_allclose(hsv_to_rgb(h, s, v), expected, atol=1e-9)


# --- errors ------------------------------------------------------------------------------


def test_a_non_empty_folder_is_refused_without_overwrite(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "reused"
    syn.prepare_synthetic(out, train=30, val=5, test=5)
    (out / "NOTES.md").write_text("mine")
    with pytest.raises(DataError, match="not empty; pass --overwrite"):
        syn.prepare_synthetic(out, train=40, val=10, test=20)
    syn.prepare_synthetic(out, train=12, val=5, test=5, overwrite=True)
    assert (out / "NOTES.md").read_text() == "mine"
    assert len(list((out / "images" / "train").iterdir())) == 12  # no leftovers of the 30
    assert read_manifest(out).splits["train"] == 12
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        syn.prepare_synthetic(tmp_path / "file", overwrite=True)


def test_overwrite_never_deletes_a_folder_that_is_not_a_synthetic_dataset(tmp_path: Path) -> None:
    out = tmp_path / "cub"
    (out / "images").mkdir(parents=True)
    (out / "images" / "bird.jpg").write_bytes(b"jpeg")
    with pytest.raises(DataError, match=r"does not hold a synthetic dataset .* delete its images"):
        syn.prepare_synthetic(out, train=5, val=5, test=5, overwrite=True)
    assert (out / "images" / "bird.jpg").read_bytes() == b"jpeg"
    assert sorted(p.name for p in out.iterdir()) == ["images"]


def test_overwrite_replaces_a_half_written_dataset(tmp_path: Path) -> None:
    out = tmp_path / "half"

    def interrupt(done: int, total: int) -> None:
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        syn.prepare_synthetic(out, train=20, val=5, test=5, progress=interrupt)
    assert (out / "params.json").is_file() and not (out / "dataset.yaml").exists()
    with pytest.raises(DataError, match="is not a prepared dataset folder"):
        read_manifest(out)
    syn.prepare_synthetic(out, train=20, val=5, test=5, overwrite=True)
    assert read_manifest(out).splits == {"train": 20, "val": 5, "test": 5}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("classes", 1),
        ("classes", 101),
        ("image_size", 16),
        ("train", 0),
        ("seed", -1),
        ("val", 2.5),
    ],
)
def test_out_of_range_parameters_are_one_line_errors(
    tmp_path: Path, key: str, value: object
) -> None:
    with pytest.raises(SettingsError, match=f"{key}={value!r} is out of range") as info:
        syn.prepare_synthetic(tmp_path / "x", **{key: value})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()


def test_read_part_masks_errors(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="file not found"):
        syn.read_part_masks(tmp_path)
    (tmp_path / "part_masks.txt").write_text("a.png,parts/a.png\n\nb.png\n")
    with pytest.raises(
        MetadataError, match=r"part_masks.txt:3: expected 'image_id,part_mask_path'"
    ):
        syn.read_part_masks(tmp_path)
    (tmp_path / "part_masks.txt").write_text("a.png,p/a.png\na.png,p/b.png\n")
    with pytest.raises(MetadataError, match=r":2: second part mask for image id 'a.png'"):
        syn.read_part_masks(tmp_path)


# --- the cache ---------------------------------------------------------------------------


def test_ensure_synthetic_reuses_and_regenerates(tmp_path: Path) -> None:
    calls: list[int] = []
    params = {"train": 20, "val": 10, "test": 10}
    first = syn.ensure_synthetic(tmp_path, progress=lambda d, t: calls.append(d), **params)
    assert first.parent == tmp_path / "datasets" and calls
    assert read_manifest(first).splits == {"train": 20, "val": 10, "test": 10}
    stamp = (first / "dataset.yaml").stat().st_mtime_ns

    calls.clear()
    assert syn.ensure_synthetic(tmp_path, progress=lambda d, t: calls.append(d), **params) == first
    assert calls == [] and (first / "dataset.yaml").stat().st_mtime_ns == stamp

    other = syn.ensure_synthetic(tmp_path, seed=1, **params)
    assert other != first and json.loads((other / "params.json").read_text())["seed"] == 1

    (first / "dataset.yaml").unlink()  # a folder without its manifest is incomplete
    (first / "images" / "train" / "000003.png").unlink()
    assert syn.ensure_synthetic(tmp_path, **params) == first
    assert (first / "dataset.yaml").is_file() and (first / "images/train/000003.png").is_file()

    (first / "params.json").write_text("{}")  # a different record: regenerate
    assert syn.ensure_synthetic(tmp_path, **params) == first
    assert json.loads((first / "params.json").read_text())["train"] == 20
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == sorted(
        [first.name, other.name]
    ), "no temporary folders are left behind"


def test_concurrent_runs_publish_one_complete_folder(tmp_path: Path) -> None:
    params = {"train": 30, "val": 5, "test": 5}
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: syn.ensure_synthetic(tmp_path, **params), range(2)))
    assert results[0] == results[1]
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == [results[0].name]
    assert read_manifest(results[0]).splits["train"] == 30


def test_a_killed_run_leaves_no_folder_that_looks_complete(tmp_path: Path) -> None:
    def interrupt(done: int, total: int) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        syn.ensure_synthetic(tmp_path, train=40, val=5, test=5, progress=interrupt)
    assert list((tmp_path / "datasets").iterdir()) == []
    out = syn.ensure_synthetic(tmp_path, train=40, val=5, test=5)
    assert len(read_split(out / "train", require_localization=True)) == 40


def test_ensure_synthetic_gives_the_same_bytes_as_prepare(tmp_path: Path) -> None:
    cached = syn.ensure_synthetic(tmp_path / "cache", train=12, val=4, test=4)
    syn.prepare_synthetic(tmp_path / "direct", train=12, val=4, test=4)
    assert _files(cached) == _files(tmp_path / "direct")


def test_stale_temporary_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    name = syn.SyntheticParams(train=5, val=5, test=5).folder_name()
    stale = tmp_path / "datasets" / f".{name}.tmp-999999999-abc"
    fresh = tmp_path / "datasets" / f".{name}.tmp-{os.getpid()}-abc"
    for folder in (stale, fresh):
        (folder / "images").mkdir(parents=True)
        os.utime(folder, (0, 0))
    syn.ensure_synthetic(tmp_path, train=5, val=5, test=5)
    if os.name == "posix":
        assert not stale.exists()
    assert fresh.exists(), "a live process's folder is kept"


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WSOLKIT_CACHE", str(tmp_path / "c"))
    assert syn.default_cache_dir() == tmp_path / "c"
    monkeypatch.setenv("WSOLKIT_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert syn.default_cache_dir() == tmp_path / "xdg" / "wsolkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert syn.default_cache_dir().name in ("wsolkit", "Cache")


def test_registered_as_the_synthetic_dataset() -> None:
    spec = registry.datasets.load("synthetic")
    assert spec is syn.SYNTHETIC and spec.method_defaults == {"norm_region": "max"}
    assert (spec.num_classes, spec.eval_size, spec.resize_size, spec.crop_size) == (10, 64, 64, 64)
    assert spec.mean == (0.5, 0.5, 0.5) and spec.std == (0.25, 0.25, 0.25)
