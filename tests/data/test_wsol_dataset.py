"""``WSOLDataset``, the protocol transforms and bad-image handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from wsolkit.data.dataset import (
    BadImage,
    SkippedImages,
    WSOLDataset,
    collate_skip_bad,
    load_rgb,
)
from wsolkit.data.metadata import SplitMetadata
from wsolkit.data.transforms import BatchNormalize, eval_transform, train_transform
from wsolkit.errors import DataError, SettingsError
from wsolkit.settings.models import IMAGENET_MEAN, IMAGENET_STD, DataSettings

COLOR = (200, 100, 50)


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, SplitMetadata]:
    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    Image.new("RGB", (40, 30), COLOR).save(root / "a" / "solid.jpg", quality=100)
    _noise((37, 23)).save(root / "a" / "noise.png")
    Image.new("L", (20, 20), 128).save(root / "a" / "gray.png")
    Image.new("RGBA", (20, 20), (1, 2, 3, 4)).save(root / "a" / "alpha.png")
    ids = ["a/solid.jpg", "a/noise.png", "a/gray.png", "a/alpha.png"]
    meta = SplitMetadata(ids, dict(zip(ids, [0, 1, 2, 1], strict=True)), {i: (1, 1) for i in ids})
    return root, meta


def test_eval_transform_is_resize_totensor_normalize(images) -> None:
    root, meta = images
    data = DataSettings(eval_size=32)
    dataset = WSOLDataset(meta, root, eval_transform(data))
    raw, label, image_id = dataset[1]
    assert (image_id, label) == ("a/noise.png", 1)
    assert raw.shape == (3, 32, 32) and raw.dtype == torch.uint8  # normalized on the device
    tensor = BatchNormalize.from_settings(data)(raw[None])[0]
    # The reference: PIL bilinear resize to a square (no crop), /255, ImageNet normalization.
    ref = np.asarray(_noise((37, 23)).resize((32, 32), Image.BILINEAR), dtype=np.float32) / 255
    ref = (ref - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    np.testing.assert_allclose(tensor.permute(1, 2, 0).numpy(), ref, atol=1e-6)


def test_eval_size_argument_overrides_settings(images) -> None:
    root, meta = images
    dataset = WSOLDataset(meta, root, eval_transform(DataSettings(), eval_size=64))
    assert dataset[0][0].shape == (3, 64, 64)


def test_train_transform_shapes_and_normalization(images) -> None:
    root, meta = images
    data = DataSettings(resize_size=48, crop_size=40)
    raw = WSOLDataset(meta, root, train_transform(data))[0][0]
    tensor = BatchNormalize.from_settings(data)(raw[None])[0]
    assert tensor.shape == (3, 40, 40)
    pixel = np.asarray(Image.open(root / "a" / "solid.jpg"))[15, 20] / 255.0
    expected = (pixel - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    # A solid image stays solid through resize, crop and flip.
    np.testing.assert_allclose(tensor[:, 20, 20].numpy(), expected, atol=2e-2)
    assert float(tensor.std(dim=(1, 2)).max()) < 0.05


def test_train_transform_crops_randomly_and_flips(images) -> None:
    root, meta = images
    ids = ["a/noise.png"]
    outputs = set()
    for hflip in (True, False):
        data = DataSettings(resize_size=24, crop_size=24, hflip=hflip)
        dataset = WSOLDataset(meta, root, train_transform(data), ids=ids)
        seen = set()
        for seed in range(12):
            torch.manual_seed(seed)
            seen.add(dataset[0][0].numpy().tobytes())
        outputs.add(len(seen))
    assert outputs == {2, 1}  # flipped or not with hflip; always identical without
    data = DataSettings(resize_size=30, crop_size=24, hflip=False)
    dataset = WSOLDataset(meta, root, train_transform(data), ids=ids)
    crops = set()
    for seed in range(8):
        torch.manual_seed(seed)
        crops.add(dataset[0][0].numpy().tobytes())
    assert len(crops) > 1


def test_crop_larger_than_resize_is_a_settings_error() -> None:
    with pytest.raises(
        SettingsError, match="data.crop_size=300 is larger than data.resize_size=256"
    ):
        train_transform(DataSettings(crop_size=300))


def test_gray_and_alpha_images_become_rgb(images) -> None:
    root, meta = images
    dataset = WSOLDataset(meta, root, None)
    assert dataset[2][0].shape == (3, 20, 20) and dataset[3][0].shape == (3, 20, 20)
    assert torch.allclose(dataset[2][0], torch.full((3, 20, 20), 128 / 255))


def test_subset_ids_and_unknown_ids(images) -> None:
    root, meta = images
    dataset = WSOLDataset(meta, root, None, ids=["a/gray.png"])
    assert len(dataset) == 1 and dataset.label(0) == 2
    with pytest.raises(DataError, match="1 requested image id\\(s\\) are not in the split"):
        WSOLDataset(meta, root, None, ids=["a/ghost.png"])


def _break(root: Path) -> dict[str, Path]:
    data = (root / "a" / "solid.jpg").read_bytes()
    (root / "a" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "a" / "garbage.jpg").write_bytes(b"this is not an image")
    return {
        "truncated": root / "a" / "truncated.jpg",
        "garbage": root / "a" / "garbage.jpg",
        "missing": root / "a" / "missing.jpg",
    }


@pytest.mark.parametrize("kind", ["truncated", "garbage", "missing"])
def test_unreadable_image_error_names_the_file(images, kind: str) -> None:
    root, _ = images
    path = _break(root)[kind]
    with pytest.raises(DataError) as info:
        load_rgb(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "skip_bad_images" in message
    assert "\n" not in message


def _bad_split(root: Path) -> SplitMetadata:
    _break(root)
    ids = ["a/solid.jpg", "a/truncated.jpg", "a/noise.png", "a/garbage.jpg", "a/missing.jpg"]
    return SplitMetadata(ids, dict.fromkeys(ids, 0), {i: (1, 1) for i in ids})


def test_bad_image_stops_the_dataset_by_default(images) -> None:
    root, _ = images
    dataset = WSOLDataset(_bad_split(root), root, eval_transform(DataSettings(eval_size=16)))
    with pytest.raises(DataError, match="truncated.jpg: cannot read the image"):
        dataset[1]


def test_skip_bad_images_are_dropped_and_counted(images) -> None:
    root, _ = images
    dataset = WSOLDataset(
        _bad_split(root), root, eval_transform(DataSettings(eval_size=16)), skip_bad_images=True
    )
    assert isinstance(dataset[1], BadImage) and dataset[1].image_id == "a/truncated.jpg"
    loader = DataLoader(dataset, batch_size=2, collate_fn=collate_skip_bad)
    skipped = SkippedImages()
    for _ in range(2):  # two epochs: each bad image counted once
        batches = list(loader)
        for batch in batches:
            skipped.add(batch)
    assert [b.image_ids for b in batches] == [["a/solid.jpg"], ["a/noise.png"], []]
    assert batches[0].images.shape == (1, 3, 16, 16) and batches[0].labels.tolist() == [0]
    assert batches[2].images.numel() == 0 and len(batches[2].skipped) == 1
    assert skipped.count == 3
    assert set(skipped.images) == {"a/truncated.jpg", "a/garbage.jpg", "a/missing.jpg"}


def test_skipping_works_across_worker_processes(images) -> None:
    root, _ = images
    dataset = WSOLDataset(
        _bad_split(root), root, eval_transform(DataSettings(eval_size=16)), skip_bad_images=True
    )
    loader = DataLoader(dataset, batch_size=5, collate_fn=collate_skip_bad, num_workers=1)
    (batch,) = list(loader)
    assert batch.image_ids == ["a/solid.jpg", "a/noise.png"] and len(batch.skipped) == 3


def test_error_from_a_worker_process_stays_one_line(images) -> None:
    root, _ = images
    dataset = WSOLDataset(_bad_split(root), root, None, ids=["a/garbage.jpg"])
    with pytest.raises(DataError) as info:
        list(DataLoader(dataset, num_workers=1))
    message = str(info.value)
    assert message.startswith(f"{root / 'a' / 'garbage.jpg'}: cannot read the image"), message
    assert "\n" not in message and "Traceback" not in message


def test_cache_images_reads_each_file_once(tmp_path, monkeypatch) -> None:
    from PIL import Image

    import wsolkit.data.dataset as dataset_module
    from wsolkit.data.dataset import WSOLDataset
    from wsolkit.data.metadata import SplitMetadata

    Image.new("RGB", (8, 6), (10, 20, 30)).save(tmp_path / "a.png")
    meta = SplitMetadata(["a.png"], {"a.png": 2}, {"a.png": (8, 6)})
    reads = []
    real = dataset_module.load_rgb
    monkeypatch.setattr(dataset_module, "load_rgb", lambda p: reads.append(p) or real(p))
    cached = WSOLDataset(meta, tmp_path, None, cache_images=True)
    first, second = cached[0], cached[0]
    assert len(reads) == 1
    assert first[0].shape == (3, 6, 8) and first[0].equal(second[0]) and first[1:] == (2, "a.png")
    WSOLDataset(meta, tmp_path, None)[0]
    WSOLDataset(meta, tmp_path, None)[0]
    assert len(reads) == 3  # no cache: a read per access
