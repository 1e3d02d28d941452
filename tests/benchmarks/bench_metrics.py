"""Benchmark: the literal box sweep against wsolkit's fast path, and PxAP throughput.

Run (a script, not a test):

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_metrics.py [--maps 500] [--pxap-maps 5000] \
        [--workers 2]

Both paths evaluate the same generated 224×224 CAM-like score maps (raw 14×14
and 28×28 CAMs with a few blobs and noise, normalized like the canonical
inference) at interval 0.001, multi-contour, IoU 30/50/70; the script asserts
identical counts per (IoU level, threshold) and prints both times and the ratio.
OpenCV runs single-threaded for both, so the ratio compares like with like: one
process each. With ``--workers N`` (N > 1) the fast path is also timed in a pool
of N processes (forked, so the maps are inherited as files would be read by each
worker; pool start-up included), printed on its own line with its own ratio.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from literal_metrics import literal_correct_counts  # noqa: E402
from metric_cases import generate_boxes, generate_map  # noqa: E402

from wsolkit.metrics import cam_thresholds, evaluate_box_batch  # noqa: E402
from wsolkit.metrics.pxap import (  # noqa: E402
    mask_histograms,
    pxap_bin_edges,
    pxap_from_histograms,
)

IOU = (30, 50, 70)
_POOL_DATA: tuple[list, list, np.ndarray] | None = None  # inherited by forked workers


def _pool_chunk(bounds: tuple[int, int]) -> np.ndarray:
    maps, boxes, thresholds = _POOL_DATA  # type: ignore[misc]
    cv2.setNumThreads(1)
    lo, hi = bounds
    return evaluate_box_batch(maps[lo:hi], boxes[lo:hi], thresholds, IOU)["correct"]


def pooled_fast(maps: list, boxes: list, thresholds: np.ndarray, workers: int) -> np.ndarray:
    """The fast path over a fork pool of ``workers`` processes; summed counts."""
    global _POOL_DATA
    _POOL_DATA = (maps, boxes, thresholds)
    step = max(1, len(maps) // (workers * 8))
    chunks = [(i, min(i + step, len(maps))) for i in range(0, len(maps), step)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return sum(pool.map(_pool_chunk, chunks))


def box_benchmark(count: int, seed: int, workers: int) -> None:
    """Literal vs fast on ``count`` maps; asserts equal curves."""
    rng = np.random.default_rng(seed)
    maps = [generate_map(rng, ("cam14", "cam28")[i % 2], (224, 224)) for i in range(count)]
    boxes = [generate_boxes(rng, (224, 224), int(rng.integers(1, 4))) for _ in range(count)]
    thresholds = cam_thresholds(0.001)

    start = time.perf_counter()
    fast = evaluate_box_batch(maps, boxes, thresholds, IOU, multi_contour=True)["correct"]
    fast_s = time.perf_counter() - start

    start = time.perf_counter()
    literal = literal_correct_counts(
        maps, [[tuple(b) for b in g] for g in boxes], thresholds, IOU, multi_contour=True
    )
    literal_s = time.perf_counter() - start
    np.testing.assert_array_equal(fast, literal)

    pooled_s = None
    if workers > 1:
        start = time.perf_counter()
        pooled = pooled_fast(maps, boxes, thresholds, workers)
        pooled_s = time.perf_counter() - start
        np.testing.assert_array_equal(pooled, literal)
    print(f"box sweep, {count} maps 224x224, interval 0.001, multi-contour, IoU {IOU}:")
    print(
        f"  literal (findContours per threshold): {literal_s:8.2f} s  ({literal_s / count * 1e3:.1f} ms/map)"
    )
    print(
        f"  fast, 1 process                     : {fast_s:8.2f} s  ({fast_s / count * 1e3:.2f} ms/map)"
        f"  speed-up {literal_s / fast_s:.1f}x"
    )
    if pooled_s is not None:
        print(
            f"  {f'fast, {workers} processes':36s}: {pooled_s:8.2f} s"
            f"  ({pooled_s / count * 1e3:.2f} ms/map)  speed-up {literal_s / pooled_s:.1f}x"
            " (vs the 1-process literal loop)"
        )
    print("  identical counts: yes")


def pxap_benchmark(count: int, seed: int) -> None:
    """PxAP accumulation over ``count`` maps with in-memory masks; checked against numpy."""
    rng = np.random.default_rng(seed)
    edges = pxap_bin_edges(0.001)
    cams = [rng.random((224, 224)) ** 2 for _ in range(8)]
    masks = []
    for _ in range(8):
        mask = np.zeros((224, 224), np.uint8)
        center = (int(rng.integers(40, 184)), int(rng.integers(40, 184)))
        cv2.ellipse(
            mask, center, (int(rng.integers(10, 90)), int(rng.integers(10, 90))), 0, 0, 360, 1, -1
        )
        masks.append(mask.astype(bool))
    ignore = np.zeros((224, 224), bool)
    ignore[:20, :20] = True
    positive = np.zeros(edges.size - 1, np.int64)
    negative = np.zeros_like(positive)
    start = time.perf_counter()
    for i in range(count):
        pos, neg = mask_histograms(cams[i % 8], masks[i % 8], ignore & ~masks[i % 8], edges)
        positive += pos
        negative += neg
    pxap, _, _ = pxap_from_histograms(positive, negative)
    elapsed = time.perf_counter() - start
    # The canonical numpy.histogram on the first maps gives the same bins.
    for i in range(8):
        background = ~(masks[i] | (ignore & ~masks[i]))
        expected = np.histogram(cams[i][background], bins=edges)[0]
        np.testing.assert_array_equal(
            mask_histograms(cams[i], masks[i], ignore & ~masks[i], edges)[1], expected
        )
    print(f"PxAP over {count} maps 224x224 (interval 0.001): {elapsed:.2f} s  (PxAP {pxap:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=500, help="maps for the box sweep")
    parser.add_argument("--pxap-maps", type=int, default=5000, help="maps for PxAP")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=1, help="also time the fast path in N processes"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    box_benchmark(args.maps, args.seed, args.workers)
    pxap_benchmark(args.pxap_maps, args.seed)


if __name__ == "__main__":
    main()
