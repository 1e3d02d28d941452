"""Benchmark of the CAM store against the one-.npy-per-image layout (a script, not a test).

Prints write and read images/s for synthetic maps — raw 28×28 float16 CAMs and
full 224×224 float32 score maps — the bytes per image of each store, and the
disk usage per image of wsolevaluation's layout (one 224×224 .npy per image,
float32 as its ``inference.py`` saves them, and float64 as its evaluator
requires them), with the ratios.

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_cam_store.py --raw 10000 --full 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from wsolkit.cams import CamBatch, CamStore, CamStoreWriter
from wsolkit.cams.npy import export_npy


def smooth_maps(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Random but smooth float32 maps (bicubic upsampling of a 7×7 grid), CAM-like."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        coarse = rng.normal(size=(7, 7)).astype(np.float32)
        out[i] = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        out[i] = out[i] * rng.uniform(1, 20) + rng.uniform(-5, 5)
    return out


def normalized(maps: np.ndarray) -> np.ndarray:
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)


def disk_usage(paths: list[Path]) -> int:
    """Bytes allocated on disk (``du``), not the apparent size."""
    return sum(p.stat().st_blocks * 512 for p in paths)


def bench_store(
    path: Path, maps: np.ndarray, resolution: str, dtype: str, batch: int, model_s: float = 0.0
) -> dict:
    """Write then read ``maps``; ``model_s`` simulates the model's time per batch (GIL free)."""
    n = len(maps)
    ids = [f"val/ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)]
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 1000, (n, 5))
    scores = rng.random((n, 5)).astype(np.float32)
    provenance = {"checkpoint_sha256": "0" * 64, "eval_size": 224, "split": "test"}
    in_put = 0.0
    started = time.perf_counter()
    with CamStoreWriter.open_or_resume(
        path,
        ids=ids,
        labels=np.arange(n) % 1000,
        provenance=provenance,
        map_shape=maps.shape[1:],
        resolution=resolution,  # type: ignore[arg-type]
        dtype=dtype,
        overwrite=True,
    ) as writer:
        for a in range(0, n, batch):
            time.sleep(model_s)
            t = time.perf_counter()
            writer.put(CamBatch(maps[a : a + batch], classes[a : a + batch], scores[a : a + batch]))
            in_put += time.perf_counter() - t
    write_s = time.perf_counter() - started
    if model_s:
        return {"overhead": write_s / (model_s * -(-n // batch)) - 1}
    with CamStore.open(path) as store:
        started = time.perf_counter()
        for _ in store.rows():
            pass
        read_s = time.perf_counter() - started
        sub = min(n, 2000)
        started = time.perf_counter()
        for i, _ in enumerate(store.scoremaps(224)):
            if i + 1 == sub:
                break
        scoremap_s = time.perf_counter() - started
    return {
        "write": n / write_s,
        "put_share": in_put / write_s,
        "read": n / read_s,
        "scoremaps": sub / scoremap_s,
        "bytes": disk_usage([path]) / n,
    }


def bench_npy(folder: Path, maps: np.ndarray, dtype: str) -> dict:
    folder.mkdir(parents=True)
    paths = [folder / f"ILSVRC2012_val_{i + 1:08d}.JPEG.npy" for i in range(len(maps))]
    started = time.perf_counter()
    for path, scoremap in zip(paths, maps, strict=True):
        np.save(path, scoremap.astype(dtype))
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    for path in paths:
        np.load(path)
    read_s = time.perf_counter() - started
    apparent = sum(p.stat().st_size for p in paths) / len(paths)
    return {
        "write": len(paths) / write_s,
        "read": len(paths) / read_s,
        "bytes": disk_usage(paths) / len(paths),
        "apparent": apparent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=int, default=10_000, help="raw 28×28 CAMs to store")
    parser.add_argument("--full", type=int, default=500, help="full 224×224 maps (and .npy)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--model-ms", type=float, default=20.0, help="simulated model time per raw batch"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cams-") as tmp_name:
        tmp = Path(tmp_name)
        raw = smooth_maps(args.raw, 28)
        full = normalized(smooth_maps(args.full, 224, seed=2))
        rows = {
            "store raw 28x28 float16": bench_store(tmp / "r.h5", raw, "raw", "float16", args.batch),
            "store raw 28x28 float32": bench_store(
                tmp / "r32.h5", raw, "raw", "float32", args.batch
            ),
            "store full 224x224 float32": bench_store(
                tmp / "f.h5", full, "full", "float32", min(args.batch, 64)
            ),
            "npy 224x224 float32 (inference.py)": bench_npy(tmp / "n32", full, "float32"),
            "npy 224x224 float64 (evaluator)": bench_npy(tmp / "n64", full, "float64"),
        }
        overlap = bench_store(
            tmp / "o.h5", raw, "raw", "float16", args.batch, args.model_ms / 1000
        )["overhead"]
        started = time.perf_counter()
        exported = export_npy(tmp / "f.h5", tmp / "exported").files
        export_rate = exported / (time.perf_counter() - started)
    print(
        f"raw maps: {args.raw}, full maps: {args.full}, batch {args.batch}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus {os.cpu_count()}"
    )
    print(
        f"{'layout':38s} {'write img/s':>12s} {'read img/s':>11s} {'bytes/img':>10s} "
        f"{'x smaller than npy f32/f64':>27s}"
    )
    npy32, npy64 = (
        rows["npy 224x224 float32 (inference.py)"],
        rows["npy 224x224 float64 (evaluator)"],
    )
    for name, r in rows.items():
        ratio = f"{npy32['bytes'] / r['bytes']:8.1f} / {npy64['bytes'] / r['bytes']:8.1f}"
        print(f"{name:38s} {r['write']:12.0f} {r['read']:11.0f} {r['bytes']:10.0f} {ratio:>27s}")
    for name, r in rows.items():
        if "store" in name:
            print(
                f"{name}: score maps (SPEC 2.2, 224x224) {r['scoremaps']:.0f} img/s; producer "
                f"spent {100 * r['put_share']:.1f}% of the write time inside put()"
            )
        else:
            print(f"{name}: apparent size {r['apparent']:.0f} bytes/file")
    raw16 = rows["store raw 28x28 float16"]["bytes"]
    print(
        f"ImageNet test (50,000 images) raw 28x28 float16 store: {raw16 * 50_000 / 1e6:.1f} MB "
        f"vs {npy32['bytes'] * 50_000 / 1e9:.2f} GB (.npy float32), "
        f"{npy64['bytes'] * 50_000 / 1e9:.2f} GB (.npy float64)"
    )
    rate = args.batch / (args.model_ms / 1000)
    print(
        f"producer simulating a model at {rate:.0f} img/s ({args.model_ms:g} ms per batch): "
        f"raw float16 export took {100 * overlap:+.1f}% longer than the model alone"
    )
    print(f"export-npy from the full store: {export_rate:.0f} files/s (atomic, fsync per file)")


if __name__ == "__main__":
    main()
