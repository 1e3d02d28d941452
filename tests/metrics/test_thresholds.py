"""Thresholds chosen on val and read on test, the threshold-free IoUs, and pIoU — by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from metric_cases import KINDS, generate_boxes, generate_map

from wsolkit.data.metadata import MaskAnnotation, SplitMetadata
from wsolkit.metrics import BoxEvaluator, EvalProtocol, MaskEvaluator, SplitEvaluation
from wsolkit.metrics.boxes import contour_boxes, inclusive_iou, scoremap_to_uint8
from wsolkit.metrics.scores import Taus
from wsolkit.metrics.thresholds import at_taus

SIZE = 32


def square(lo: int, hi: int, value: float = 1.0) -> np.ndarray:
    out = np.zeros((SIZE, SIZE))
    out[lo:hi, lo:hi] = value
    return out


def split(n: int, box: tuple[int, int, int, int]) -> SplitMetadata:
    ids = [f"i{k}.jpg" for k in range(n)]
    return SplitMetadata(
        ids, dict.fromkeys(ids, 0), dict.fromkeys(ids, (SIZE, SIZE)), {i: [box] for i in ids}
    )


def test_test_boxacc_read_at_the_val_threshold_by_hand() -> None:
    """Thresholds are relative to each map's maximum (the canonical ``τ · max``). Val: an
    object (8..23) at 0.6 in a halo (4..27) at 0.3 — the halo is half the maximum, so it
    goes at τ = 0.50, val's best threshold at IoU 70 (the halo box has IoU 16²/24² = 0.44).
    Test: the same image (right for τ in [0.5, 1)) and one whose halo is 0.8 of the maximum
    (right for τ in [0.8, 1)). The test oracle is 100%; at val's τ, 50%."""
    protocol = EvalProtocol(eval_size=SIZE, cam_curve_interval=0.01, iou_thresholds=(70,))
    box = (8, 8, 23, 23)
    val_map = np.maximum(square(4, 28, 0.3), square(8, 24, 0.6))
    val = BoxEvaluator(split(1, box), protocol)
    val.accumulate(val_map, "i0.jpg")
    val_result = val.compute()
    assert val_result.best_threshold == {70: 0.5}
    test = BoxEvaluator(split(2, box), protocol)
    test.accumulate(val_map, "i0.jpg")
    test.accumulate(np.maximum(square(4, 28, 0.8), square(8, 24, 1.0)), "i1.jpg")
    test_result = test.compute()
    assert test_result.max_box_acc == {70: 100.0} and test_result.best_threshold == {70: 0.8}
    read = at_taus(Taus.from_scores(_scores(val_result), "val"), test_result, None)
    assert read.box_acc == {"70": 50.0} and read.mean == 50.0
    assert read.taus.box == {"70": 0.5} and read.gt_known_loc is None  # no IoU 50 level
    assert at_taus(Taus.given(0.85, (70,)), test_result, None).box_acc == {"70": 100.0}
    assert at_taus(Taus.given(0.3, (70,)), test_result, None).box_acc == {"70": 0.0}  # halos
    with pytest.raises(ValueError, match="not on the sweep"):
        at_taus(Taus.given(0.155, (70,)), test_result, None)


def _scores(result):
    from wsolkit.metrics.scores import SplitScores

    return SplitScores(localization=result.scores(curves=False))


def test_threshold_free_ious_equal_the_literal_definition() -> None:
    """mean_iou: each image's best IoU over τ, averaged; raw_iou: max over τ of the mean IoU
    (both from the literal per-threshold contours, summed in the same 2^-40 units)."""
    rng = np.random.default_rng(5)
    protocol = EvalProtocol(eval_size=48, cam_curve_interval=0.02)
    ids = [f"i{k}.jpg" for k in range(8)]
    boxes = {i: [tuple(int(v) for v in b) for b in generate_boxes(rng, (48, 48), 2)] for i in ids}
    meta = SplitMetadata(ids, dict.fromkeys(ids, 0), dict.fromkeys(ids, (48, 48)), boxes=boxes)
    maps = [generate_map(rng, KINDS[k % len(KINDS)], (48, 48)) for k in range(8)]
    evaluator = BoxEvaluator(meta, protocol)
    for image_id, scoremap in zip(ids, maps, strict=True):
        evaluator.accumulate(scoremap, image_id)
    result = evaluator.compute()
    unit = float(1 << 40)
    per_image = []
    for image_id, scoremap in zip(ids, maps, strict=True):
        u = scoremap_to_uint8(scoremap)
        row = []
        for t in result.thresholds:
            binary = (u > int(t * u.max())).astype(np.uint8)  # cv2.THRESH_BINARY, canonical
            found = contour_boxes(binary, multi_contour=True)
            row.append(inclusive_iou(found, np.asarray(boxes[image_id])).max())
        per_image.append(np.rint(np.asarray(row) * unit).astype(np.int64))
    table = np.stack(per_image)
    assert result.mean_iou == 100.0 * int(table.max(axis=1).sum()) / unit / 8
    curve = 100.0 * table.sum(axis=0).astype(np.float64) / unit / 8
    assert result.raw_iou == float(curve.max())
    assert result.raw_iou_threshold == float(result.thresholds[int(np.argmax(curve))])
    assert result.mean_iou >= result.raw_iou  # each image its own τ beats one τ for all


def test_piou_and_pixel_scores_at_a_threshold_by_hand(tmp_path: Path) -> None:
    """A 10×20 mask: foreground the left half. Scores: 0.8 on 50 foreground pixels, 0.4 on
    the other 50 and on 20 background pixels, 0 elsewhere."""
    mask = np.zeros((10, 20), np.uint8)
    mask[:, :10] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    meta = SplitMetadata(
        ["a.jpg"], {"a.jpg": 0}, {"a.jpg": (20, 20)}, masks={"a.jpg": MaskAnnotation(["m.png"])}
    )
    scoremap = np.zeros((20, 20))
    foreground = cv2.resize(np.float32(mask), (20, 20), interpolation=cv2.INTER_NEAREST) > 0.5
    fg = np.flatnonzero(foreground.ravel())
    bg = np.flatnonzero(~foreground.ravel())
    flat = scoremap.ravel()
    flat[fg[:100]] = 0.8  # 200 foreground pixels in all at 20×20
    flat[fg[100:]] = 0.4
    flat[bg[:40]] = 0.4
    evaluator = MaskEvaluator(
        meta, EvalProtocol(eval_size=20, cam_curve_interval=0.1), mask_root=tmp_path
    )
    evaluator.accumulate(scoremap, "a.jpg")
    result = evaluator.compute()
    # τ ≤ 0.4: tp 200, fp 40, fn 0 → IoU 200/240; τ in (0.4, 0.8]: tp 100, fp 0, fn 100 → 1/2.
    assert result.piou == pytest.approx(100 * 200 / 240) and result.piou_threshold == 0.1
    at = result.at(0.5)
    assert at == {
        "threshold": 0.5, "precision": 100.0, "recall": 50.0,
        "f1": 100 * 200 / 300, "iou": 50.0,
    }  # fmt: skip
    taus = Taus(source="val", mask=0.5)
    assert at_taus(taus, None, result).mask.iou == 50.0


def test_a_split_evaluation_reads_its_report_at_val_taus() -> None:
    box = (8, 8, 23, 23)
    protocol = EvalProtocol(eval_size=SIZE, cam_curve_interval=0.01)
    meta = split(2, box)
    evaluation = SplitEvaluation(meta, protocol)
    maps = [square(8, 24), np.maximum(square(0, 32, 0.1), square(8, 24, 0.2))]
    evaluation.accumulate(maps, meta.image_ids, top5=np.array([[0], [1]]))
    report = evaluation.compute()
    low = report.read_at(Taus.given(0.15, (30, 50, 70)))  # i1's background (0.5 of max) stays
    assert low.box_acc == {"30": 50.0, "50": 50.0, "70": 50.0}
    read = report.read_at(Taus.given(0.6, (30, 50, 70)))
    assert read.box_acc == {"30": 100.0, "50": 100.0, "70": 100.0} and read.mean == 100.0
    assert read.gt_known_loc == 100.0 and read.top1_loc == 50.0  # i1's prediction is wrong
    data = report.to_dict(curves=False)
    assert data["at_tau"]["taus"] == {
        "source": "given", "box": {"30": 0.6, "50": 0.6, "70": 0.6}, "mask": 0.6,
    }  # fmt: skip
    assert report.scores().column_values()["v2_at_tau"] == 100.0
