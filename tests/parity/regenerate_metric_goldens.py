"""Regenerate the golden numbers of tests/metrics/test_metrics_parity.py with the reference code.

Run (a script, not a test), with your own local clones of the two references::

    python tests/parity/regenerate_metric_goldens.py \\
        --wsolevaluation PATH/TO/wsolevaluation --bridging-gap PATH/TO/bridging-gap-wsol [--check]

It builds the same cases as the test (``metric_cases.make_box_split`` /
``make_mask_split`` with the seeds and sizes of the test's ``splits`` fixture,
and the 20 raw CAMs of ``test_normalize_scoremap_equals_the_canonical_one``) in
a temporary folder, runs the reference code on them and prints ``BOX``,
``PXAP`` and ``NORMALIZE_CHECKSUMS`` as they are written in the test file.
With ``--check`` it compares them with the test file's values instead and exits
with status 1 on any difference (floats compared with ``==``).

What each number comes from:

- GT-known MaxBoxAcc per IoU level, the count fingerprints and the best
  threshold: clovaai/wsolevaluation ``evaluation.BoxEvaluator`` (each map loaded
  by ``evaluation.CamDataset`` and passed through ``util.t2n`` as
  ``evaluate_wsol`` does; thresholds ``list(np.arange(0, 1, interval))``). The
  best threshold is the first one with the most correct boxes at that IoU level;
  ``counts`` is (sum of counts, sum of counts × threshold index) per level;
  ``v2`` is ``np.average`` of the three accuracies, as ``evaluate_wsol`` does.
- Top-1 Loc: ejkim47/bridging-gap-wsol ``evaluation.BoxEvaluator`` with
  ``accumulate(..., correct=predicted == label)``; ``top1_max`` from
  ``compute()``, ``top1_at_gt_best`` from ``compute(cam_threshold=best)`` with
  the GT-known best threshold at IoU 50.
- PxAP: wsolevaluation ``evaluation.MaskEvaluator`` (dataset ``OpenImages``).
- Normalization: wsolevaluation's ``CAMComputer`` steps, i.e. ``util.t2n``,
  ``cv2.resize(..., (224, 224), interpolation=cv2.INTER_CUBIC)`` and
  ``inference.normalize_scoremap``; the checksum is
  ``sum(map × arange(map.size))``.

The script never downloads anything and the repository holds no reference code:
it imports from the clones you pass (see ``reference_repo.py`` for the numpy and
optional-import shims). It needs wsolkit's environment (numpy, OpenCV, torch,
torchvision, Pillow). The box cases take a few minutes at interval 0.001.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np
import torch

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "metrics"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from metric_cases import PARITY_KINDS, make_box_split, make_mask_split  # noqa: E402
from reference_repo import check_clone, reference_repo  # noqa: E402

IOU_LEVELS = [30, 50, 70]
# (split, multi_contour, interval): the keys of BOX in the test file.
BOX_CASES = [
    ("box", True, 0.001),
    ("box", False, 0.001),
    ("box", True, 0.01),
    ("box", False, 0.005),
    ("box_stem", True, 0.001),
    ("box_stem", False, 0.001),
]
PXAP_INTERVALS = [0.001, 0.01]
FIELDS = ("max_box_acc", "v2", "best_threshold", "top1_max", "top1_at_gt_best", "counts")


def make_cases(root: Path) -> dict[str, dict[str, int]]:
    """The splits of the test's ``splits`` fixture; returns the predicted class per image id."""
    _, _, box = make_box_split(root / "box", images=32, seed=0, kinds=PARITY_KINDS)
    _, _, stem = make_box_split(
        root / "box_stem", images=16, seed=1, layout="stem", kinds=PARITY_KINDS
    )
    make_mask_split(root / "mask", images=12, seed=0)
    return {"box": box, "box_stem": stem}


def raw_cams() -> list[np.ndarray]:
    """The raw CAMs of ``test_normalize_scoremap_equals_the_canonical_one``."""
    rng = np.random.default_rng(7)
    cams = []
    for k in range(20):
        n = int(rng.integers(5, 30))
        cam = rng.standard_normal((n, n)).astype(np.float32)
        if k == 3:
            cam[:] = 1.5
        if k == 4:
            cam[2, 2] = np.nan
        cams.append(cam)
    return cams


def map_name(split: str, image_id: str) -> str:
    """The score map's file name without ``.npy``: the image id, or its stem (``box_stem``)."""
    return image_id.rsplit(".", 1)[0] if split == "box_stem" else image_id


def wsolevaluation_numbers(root: Path, cases: Path) -> tuple[dict, dict, list[float]]:
    """GT-known box numbers per case, PxAP per interval and the normalization checksums."""
    import evaluation
    import inference
    import util

    def load_maps(split: str, ids: list[str]) -> list[np.ndarray]:
        names = [map_name(split, image_id) for image_id in ids]
        dataset = evaluation.CamDataset(str(cases / split / "scoremaps"), names)
        return [util.t2n(torch.from_numpy(dataset[n][0])) for n in range(len(ids))]

    box = {}
    for split, multi_contour, interval in BOX_CASES:
        metadata = evaluation.configure_metadata(str(cases / split / "meta"))
        ids = evaluation.get_image_ids(metadata)
        thresholds = list(np.arange(0, 1, interval))
        evaluator = evaluation.BoxEvaluator(
            metadata=metadata,
            dataset_name="CUB",
            split="test",
            cam_threshold_list=thresholds,
            iou_threshold_list=IOU_LEVELS,
            mask_root=None,
            multi_contour_eval=multi_contour,
        )
        for image_id, scoremap in zip(ids, load_maps(split, ids), strict=True):
            evaluator.accumulate(scoremap, image_id)
        accuracies = evaluator.compute()
        index = np.arange(len(thresholds))
        box[split, multi_contour, interval] = {
            "max_box_acc": [float(a) for a in accuracies],
            "v2": float(np.average(accuracies)),
            "best_threshold": [
                float(thresholds[int(np.argmax(evaluator.num_correct[level]))])
                for level in IOU_LEVELS
            ],
            "counts": {
                level: [int(counts.sum()), int(counts @ index)]
                for level, counts in ((lv, evaluator.num_correct[lv]) for lv in IOU_LEVELS)
            },
        }

    pxap = {}
    metadata = evaluation.configure_metadata(str(cases / "mask" / "meta"))
    ids = evaluation.get_image_ids(metadata)
    maps = load_maps("mask", ids)
    for interval in PXAP_INTERVALS:
        evaluator = evaluation.MaskEvaluator(
            metadata=metadata,
            dataset_name="OpenImages",
            split="test",
            cam_threshold_list=list(np.arange(0, 1, interval)),
            iou_threshold_list=IOU_LEVELS,
            mask_root=str(cases / "mask" / "masks"),
            multi_contour_eval=False,
        )
        for image_id, scoremap in zip(ids, maps, strict=True):
            evaluator.accumulate(scoremap, image_id)
        with contextlib.redirect_stdout(sys.stderr):  # compute() prints the AUC
            pxap[interval] = float(evaluator.compute())

    checksums = []
    for cam in raw_cams():
        raw = util.t2n(torch.from_numpy(cam))
        scoremap = inference.normalize_scoremap(
            cv2.resize(raw, (224, 224), interpolation=cv2.INTER_CUBIC)
        )
        weights = np.arange(scoremap.size).reshape(scoremap.shape)
        checksums.append(float(np.sum(scoremap * weights)))
    return box, pxap, checksums


def bridging_gap_top1(root: Path, cases: Path, predicted: dict, box: dict) -> None:
    """Add ``top1_max`` and ``top1_at_gt_best`` to each case of ``box``."""
    import data_loaders
    import evaluation
    import util

    for (split, multi_contour, interval), numbers in box.items():
        metadata = data_loaders.configure_metadata(str(cases / split / "meta"))
        labels = data_loaders.get_class_labels(metadata)
        thresholds = list(np.arange(0, 1, interval))
        evaluator = evaluation.BoxEvaluator(
            metadata=metadata,
            dataset_name="CUB",
            split="test",
            cam_threshold_list=thresholds,
            iou_threshold_list=IOU_LEVELS,
            multi_contour_eval=multi_contour,
        )
        for image_id in data_loaders.get_image_ids(metadata):
            path = cases / split / "scoremaps" / f"{map_name(split, image_id)}.npy"
            scoremap = util.t2n(torch.from_numpy(np.load(path)))
            correct = predicted[split][image_id] == labels[image_id]
            evaluator.accumulate(scoremap, image_id, correct=correct)
        best = numbers["best_threshold"][IOU_LEVELS.index(50)]
        numbers["top1_max"] = [float(a) for a in evaluator.compute()]
        numbers["top1_at_gt_best"] = [float(a) for a in evaluator.compute(cam_threshold=best)]


def compute(wsolevaluation: Path, bridging_gap: Path) -> tuple[dict, dict, list[float]]:
    """BOX, PXAP and NORMALIZE_CHECKSUMS from the reference code."""
    with tempfile.TemporaryDirectory(prefix="wsolkit-parity-") as folder:
        cases = Path(folder)
        predicted = make_cases(cases)
        with reference_repo(wsolevaluation):
            box, pxap, checksums = wsolevaluation_numbers(wsolevaluation, cases)
        with reference_repo(bridging_gap):
            bridging_gap_top1(bridging_gap, cases, predicted, box)
    box = {key: {field: numbers[field] for field in FIELDS} for key, numbers in box.items()}
    return box, pxap, checksums


def render(box: dict, pxap: dict, checksums: list[float]) -> str:
    """The three assignments, laid out as in tests/metrics/test_metrics_parity.py."""
    lines = ["BOX = {"]
    for (split, multi_contour, interval), numbers in box.items():
        lines.append(f'    ("{split}", {multi_contour}, {interval!r}): {{')
        lines += [f'        "{field}": {numbers[field]!r},' for field in FIELDS]
        lines.append("    },")
    lines.append("}")
    lines.append("PXAP = {" + ", ".join(f"{k!r}: {v!r}" for k, v in pxap.items()) + "}")
    lines.append("NORMALIZE_CHECKSUMS = [")
    lines += textwrap.wrap(
        ", ".join(map(repr, checksums)) + ",",
        width=90,
        initial_indent="    ",
        subsequent_indent="    ",
    )
    lines.append("]  # fmt: skip")
    return "\n".join(lines)


def differences(box: dict, pxap: dict, checksums: list[float]) -> list[str]:
    """Where the recomputed numbers differ from the test file's (``==`` on floats)."""
    import test_metrics_parity as golden

    found = []
    if list(box) != list(golden.BOX):
        found.append(f"BOX keys: {list(box)}, the test has {list(golden.BOX)}")
    for key in box.keys() & golden.BOX.keys():
        for field in FIELDS:
            new, old = box[key][field], golden.BOX[key][field]
            if new != old:
                found.append(f"BOX{key}[{field!r}]: {new!r}, the test has {old!r}")
    if pxap != golden.PXAP:
        found.append(f"PXAP: {pxap!r}, the test has {golden.PXAP!r}")
    for n, (new, old) in enumerate(zip(checksums, golden.NORMALIZE_CHECKSUMS, strict=True)):
        if new != old:
            found.append(f"NORMALIZE_CHECKSUMS[{n}]: {new!r}, the test has {old!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wsolevaluation", type=Path, required=True, help="your clone of clovaai/wsolevaluation"
    )
    parser.add_argument(
        "--bridging-gap", type=Path, required=True, help="your clone of ejkim47/bridging-gap-wsol"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the test file; exit 1 on any difference"
    )
    args = parser.parse_args(argv)
    wsolevaluation = check_clone(
        args.wsolevaluation, "--wsolevaluation", ["evaluation.py", "inference.py", "util.py"]
    )
    bridging_gap = check_clone(
        args.bridging_gap, "--bridging-gap", ["evaluation.py", "trainer.py", "util.py"]
    )
    box, pxap, checksums = compute(wsolevaluation, bridging_gap)
    if not args.check:
        print(render(box, pxap, checksums))
        return 0
    found = differences(box, pxap, checksums)
    for line in found:
        print(line)
    count = len(box) * len(FIELDS) + len(pxap) + len(checksums)
    if found:
        print(f"{len(found)} difference(s) from tests/metrics/test_metrics_parity.py")
        return 1
    print(f"all {count} golden entries equal those in tests/metrics/test_metrics_parity.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
