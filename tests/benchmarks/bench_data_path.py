"""Training data path, images/s per CPU core: the float path, the uint8 path, the resize cache.

Generates CUB-sized JPEGs (500×375 and 375×500, smooth content with texture, quality 90,
so that decoding costs what it costs on CUB), then measures, side by side in one run and
on ONE core (one thread, no worker processes), what a loader worker does per batch:

- ``float``: decode, resize 256, random crop 224, flip, ToTensor, Normalize, then stack
  float32 (the path before the uint8 change: 4 bytes per value through the worker queue);
- ``uint8``: the same up to the crop and flip, then a uint8 tensor (normalized later on
  the device);
- ``cache``: the resized image read from the memory-mapped resize cache, crop, flip, uint8.

The cache's one-time build is reported separately (it runs once per dataset and size).
The device side of the uint8 path (BatchNormalize) is timed too, on the CPU, per image.

    python tests/benchmarks/bench_data_path.py --images 256 --batch 32
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_images(folder: Path, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(count):
        w, h = (500, 375) if i % 3 else (375, 500)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack(
            [
                np.sin(xx / rng.uniform(20, 80) + c) * np.cos(yy / rng.uniform(20, 80))
                for c in range(3)
            ],
            axis=-1,
        )
        noise = rng.normal(0, 0.15, (h, w, 3))
        pixels = np.clip((base * 0.4 + 0.5 + noise) * 255, 0, 255).astype(np.uint8)
        name = f"{i // 50:03d}.class/img_{i:05d}.jpg"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / name, quality=90)
        ids.append(name)
    return ids


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="best of N passes per path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from wsolkit.data.dataset import WSOLDataset, collate_skip_bad
    from wsolkit.data.images import load_rgb
    from wsolkit.data.metadata import SplitMetadata
    from wsolkit.data.resize_cache import build_or_open, cache_key
    from wsolkit.data.transforms import (
        BatchNormalize,
        train_augment,
        train_resize,
        train_transform,
    )
    from wsolkit.settings.models import DataSettings

    data = DataSettings(resize_size=256, crop_size=224)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        print(f"generating {args.images} CUB-sized JPEGs (500×375, quality 90) ...", flush=True)
        ids = make_images(root, args.images, args.seed)
        meta = SplitMetadata(ids, {i: k % 200 for k, i in enumerate(ids)}, {})
        mb = sum((root / i).stat().st_size for i in ids) / 1e6
        print(f"  {mb / len(ids) * 1000:.0f} kB per image")

        def make(output: str) -> WSOLDataset:
            return WSOLDataset(meta, root, train_transform(data, output=output))

        resize = train_resize(data)
        key = cache_key("bench", "train", 256, ids, "bench")
        start = time.perf_counter()
        resized = build_or_open(
            Path(tmp) / "cache.u8",
            key,
            ids,
            lambda i: np.asarray(resize(load_rgb(root / i)), dtype=np.uint8),
            threads=1,
        )
        build_s = time.perf_counter() - start
        cached = make("uint8")
        cached.use_resized(resized, train_augment(data))
        paths = {"float": make("float"), "uint8": make("uint8"), "cache": cached}

        def epoch(dataset: WSOLDataset) -> None:
            for start in range(0, len(dataset), args.batch):
                torch.manual_seed(start)
                collate_skip_bad(
                    [dataset[i] for i in range(start, min(start + args.batch, len(dataset)))]
                )

        rates = {
            name: len(ids) / timed(lambda d=d: epoch(d), args.repeats) for name, d in paths.items()
        }
        normalize = BatchNormalize.from_settings(data)
        batch = torch.randint(0, 256, (args.batch, 3, 224, 224), dtype=torch.uint8)
        norm_s = timed(lambda: normalize(batch), args.repeats * 5) / args.batch

    print(
        f"\none core (torch threads 1, no workers), batch {args.batch}, 256 → crop 224, torch {torch.__version__}"
    )
    print(f"  {'path':<6} {'images/s':>10} {'ms/image':>9} {'× float':>8}")
    for name, rate in rates.items():
        print(f"  {name:<6} {rate:10.0f} {1000 / rate:9.2f} {rate / rates['float']:8.2f}")
    print(
        f"  cache build (once): {build_s:.2f} s for {len(ids)} images ({len(ids) / build_s:.0f} images/s, 1 thread)"
    )
    print(
        f"  device side of the uint8 path (BatchNormalize, here on this CPU): {norm_s * 1000:.3f} ms/image"
    )
    print(
        f"  bytes per image through the worker queue: float {3 * 224 * 224 * 4:,}, "
        f"uint8 {3 * 224 * 224:,}"
    )


if __name__ == "__main__":
    main()
