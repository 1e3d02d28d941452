"""The uint8 data path (normalized on the device) and the resize cache: bit for bit the float
path, reused across runs, refused cleanly when it does not fit or is not ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import tiny_overrides
from torch.utils.data import DataLoader

from wsolkit.data.dataset import collate_skip_bad
from wsolkit.data.images import ImageReadError
from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.data.resize_cache import cache_key, open_cache, sidecar
from wsolkit.data.source import DataSource
from wsolkit.data.transforms import BatchNormalize, eval_transform, train_transform
from wsolkit.engine.api import train
from wsolkit.engine.build import default_workers, worker_options
from wsolkit.engine.rundata import attach_resize_cache
from wsolkit.engine.sampling import EpochSampler, SeededDataset
from wsolkit.errors import DataError
from wsolkit.io import DiskWriteError
from wsolkit.settings import Settings
from wsolkit.settings.models import DataSettings


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(3)
    noise = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for h, w in ((37, 23), (64, 80), (48, 48))
    ]
    gray = Image.fromarray(rng.integers(0, 256, (30, 41), dtype=np.uint8)).convert("RGB")
    return [*noise, gray, Image.new("RGB", (50, 20), (255, 0, 1))]


@pytest.mark.parametrize(
    "data",
    [
        DataSettings(resize_size=40, crop_size=32),
        DataSettings(
            resize_size=33, crop_size=33, hflip=False, mean=(0.5, 0.4, 0.3), std=(1, 2, 3)
        ),
    ],
)
def test_uint8_then_batch_normalize_is_the_float_path_bit_for_bit(data) -> None:
    normalize = BatchNormalize.from_settings(data)
    for transform in ("train", "eval"):
        build = train_transform if transform == "train" else eval_transform
        floats, uint8s = [], []
        for seed, image in enumerate(_images() * 3):
            torch.manual_seed(seed)  # the crop and the flip draw the same numbers on both paths
            floats.append(build(data, output="float")(image))
            torch.manual_seed(seed)
            uint8s.append(build(data)(image))
        assert all(u.dtype == torch.uint8 for u in uint8s)
        random = data.hflip or data.crop_size < data.resize_size
        if transform == "train" and random:  # the random crops and flips did differ
            assert len({f.numpy().tobytes() for f in floats}) > len(_images())
        batch = normalize(torch.stack(uint8s))
        assert batch.dtype == torch.float32
        assert torch.equal(batch, torch.stack(floats)), transform


def test_batch_normalize_refuses_a_batch_that_is_not_uint8() -> None:
    with pytest.raises(TypeError, match="takes uint8 images"):
        BatchNormalize((0.5,) * 3, (0.5,) * 3)(torch.zeros(1, 3, 4, 4))


def test_default_workers_follow_the_cores_of_each_process(monkeypatch) -> None:
    import wsolkit.engine.rundata as rundata

    for cores, local, expected in ((2, 1, 2), (16, 1, 8), (1, 1, 0), (8, 2, 4), (4, 4, 0)):
        monkeypatch.setattr(rundata, "available_cores", lambda c=cores: c)
        assert default_workers(local) == expected, (cores, local)
    monkeypatch.setattr(rundata, "available_cores", lambda: 6)
    settings = Settings()
    assert worker_options(settings, persistent=True) == {
        "num_workers": 6,
        "persistent_workers": True,
        "prefetch_factor": 4,
    }
    explicit = settings.model_copy(
        update={"runtime": settings.runtime.model_copy(update={"workers": 0})}
    )
    assert worker_options(explicit) == {"num_workers": 0}


# -- the resize cache ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resize-cache") / "data"
    prepare_synthetic(root, seed=5, train=24, val=8, test=8, image_size=32, classes=3)
    return root


def _settings(data: Path, **data_fields) -> Settings:
    fields = {"root": data, "resize_size": 40, "crop_size": 32, **data_fields}
    return Settings(data=DataSettings(**fields))


def _batches(dataset, workers: int) -> list[torch.Tensor]:
    sampler = EpochSampler(len(dataset), seed=11)
    loader = DataLoader(
        SeededDataset(dataset),
        batch_size=5,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_skip_bad,
    )
    out = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        out += [batch.images for batch in loader]
    return out


def test_cached_batches_equal_the_uncached_ones_bit_for_bit(data, tmp_path) -> None:
    settings = _settings(data)
    source = DataSource.from_settings(settings.data)
    plain = source.torch_dataset("train")
    cached = source.torch_dataset("train")
    path = attach_resize_cache(cached, settings, source, "train", cache_dir=tmp_path)
    assert path.parent == tmp_path / "resized" and path.stat().st_size == 24 * 40 * 40 * 3
    expected = _batches(plain, workers=0)
    got = _batches(cached, workers=2)  # the memory map reopens in each worker
    assert len(got) == len(expected) == 10
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == torch.uint8 and torch.equal(a, b)
    header = json.loads(sidecar(path).read_text())
    assert header["size"] == 40 and header["count"] == 24 and header["bytes"] == 24 * 40 * 40 * 3


def test_the_cache_is_built_once_and_reused(data, tmp_path, monkeypatch) -> None:
    settings = _settings(data)
    source = DataSource.from_settings(settings.data)
    seen: list[tuple[int, int, str]] = []
    first = attach_resize_cache(
        source.torch_dataset("train"),
        settings,
        source,
        "train",
        progress=lambda done, total, label="": seen.append((done, total, label)),
        cache_dir=tmp_path,
    )
    assert seen[0][:2] == (0, 24) and seen[-1][:2] == (24, 24) and "caching resized" in seen[0][2]
    stamp = first.stat().st_mtime_ns

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache exists")

    monkeypatch.setattr("wsolkit.data.images.load_rgb", no_decoding)
    dataset = source.torch_dataset("train")
    second = attach_resize_cache(dataset, settings, source, "train", cache_dir=tmp_path)
    assert second == first and first.stat().st_mtime_ns == stamp
    assert dataset[0][0].shape == (3, 32, 32)


def test_another_size_or_image_list_gets_its_own_file(data, tmp_path) -> None:
    settings = _settings(data)
    source = DataSource.from_settings(settings.data)
    first = attach_resize_cache(
        source.torch_dataset("train"), settings, source, "train", cache_dir=tmp_path
    )
    smaller = _settings(data, resize_size=36)
    second = attach_resize_cache(
        source.torch_dataset("train"), smaller, source, "train", cache_dir=tmp_path
    )
    fewer = source.torch_dataset("train", exclude={source.split("train").image_ids[0]})
    third = attach_resize_cache(fewer, settings, source, "train", cache_dir=tmp_path)
    assert len({first, second, third}) == 3
    assert second.stat().st_size == 24 * 36 * 36 * 3 and third.stat().st_size == 23 * 40 * 40 * 3


def test_a_cache_file_of_another_transform_or_length_is_refused(data, tmp_path) -> None:
    settings = _settings(data)
    source = DataSource.from_settings(settings.data)
    dataset = source.torch_dataset("train")
    path = attach_resize_cache(dataset, settings, source, "train", cache_dir=tmp_path)
    key = cache_key("synthetic", "train", 40, dataset.image_ids, source.fingerprint("train"))
    assert open_cache(path, key) is not None
    header = json.loads(sidecar(path).read_text())
    sidecar(path).write_text(json.dumps({**header, "size": 48}))
    with pytest.raises(DataError, match=r"a resize cache of other images or another transform "
                       r"\(size = 48, this run needs 40\); delete"):  # fmt: skip
        attach_resize_cache(dataset, settings, source, "train", cache_dir=tmp_path)
    sidecar(path).write_text(json.dumps(header))
    with open(path, "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(DataError, match=r"100 bytes, a complete resize cache of 24 images at 40px"):
        attach_resize_cache(dataset, settings, source, "train", cache_dir=tmp_path)


def test_a_short_disk_is_refused_before_writing_and_leaves_nothing(
    data, tmp_path, monkeypatch
) -> None:
    settings = _settings(data)
    source = DataSource.from_settings(settings.data)
    monkeypatch.setattr("wsolkit.io.free_bytes", lambda path: 1000)
    with pytest.raises(DiskWriteError) as info:
        attach_resize_cache(
            source.torch_dataset("train"), settings, source, "train", cache_dir=tmp_path
        )
    message = str(info.value)
    assert message.startswith(f"cannot write resize cache {tmp_path / 'resized'}: no space left")
    assert "(1 kB free, 67.2 MB needed)" in message and "data.resize_cache=false" in message
    assert not [p for p in (tmp_path / "resized").iterdir() if not p.name.endswith(".lock")]


def test_an_undecodable_image_stops_the_build_naming_it(data, tmp_path) -> None:
    broken = tmp_path / "data"
    import shutil

    shutil.copytree(data, broken)
    settings = _settings(broken)
    source = DataSource.from_settings(settings.data)
    victim = source.image_root / source.split("train").image_ids[3]
    victim.write_bytes(victim.read_bytes()[:40])  # a truncated PNG
    with pytest.raises(ImageReadError, match=str(victim)):
        attach_resize_cache(
            source.torch_dataset("train"), settings, source, "train", cache_dir=tmp_path / "c"
        )
    left = [p for p in (tmp_path / "c" / "resized").iterdir() if not p.name.endswith(".lock")]
    assert left == []


def test_training_from_the_cache_records_the_same_numbers(data, tmp_path) -> None:
    common = {"data.resize_size": 40, "data.crop_size": 32, "optim.epochs": 2}
    plain = train(overrides=tiny_overrides(data, tmp_path, "plain", **common))
    cached = train(
        overrides=tiny_overrides(data, tmp_path, "cached", **common, **{"data.resize_cache": True})
    )
    assert plain is not None and cached is not None

    def epochs(name: str) -> list[dict]:
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        return [
            {k: r[k] for k in ("train_loss", "train_top1", "val")}
            for r in records
            if r["kind"] == "epoch"
        ]

    assert epochs("cached") == epochs("plain")
    summaries = [
        json.loads((tmp_path / n / "summary.json").read_text()) for n in ("cached", "plain")
    ]
    assert summaries[0]["test"] == summaries[1]["test"]
