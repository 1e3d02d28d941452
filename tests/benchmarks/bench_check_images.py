"""How fast the check before training reads image headers (``wsolkit.data.check``).

Generates COUNT CUB-sized JPEGs (500×375) once into a folder, then times
``check_images`` over them (best of 3, warm page cache) for a few thread counts and
prints images/s. The check opens each header without decoding, so its cost is the
file system and PIL's header parser::

    python tests/benchmarks/bench_check_images.py /tmp/check-jpegs --count 5000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from wsolkit.data.check import check_images
from wsolkit.data.metadata import SplitMetadata


def make_images(root: Path, count: int) -> list[str]:
    """COUNT distinct 500×375 JPEGs under ``root`` (kept between runs)."""
    ids = [f"c{k % 20:02d}/img{k:05d}.jpg" for k in range(count)]
    if not (root / ids[-1]).exists():
        base = np.random.default_rng(0).integers(0, 256, (375, 500, 3), dtype=np.uint8)
        for k, image_id in enumerate(ids):
            (root / image_id).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.roll(base, k, axis=1)).save(root / image_id, quality=90)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the JPEGs are generated (reused)")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    ids = make_images(args.folder, args.count)
    split = SplitMetadata(ids, dict.fromkeys(ids, 0), {})
    check_images(split, args.folder)  # warm the page cache
    for workers in args.workers:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            bad = check_images(split, args.folder, workers=workers)
            times.append(time.perf_counter() - start)
        assert not bad, bad[:3]
        best = min(times)
        print(f"workers {workers:2d}: {len(ids) / best:9,.0f} images/s  ({best:.3f} s, {len(ids)})")


if __name__ == "__main__":
    main()
