"""SplitEvaluation: the one evaluation loop, equal to its evaluators used one by one, merged
across shards exactly, and its typed scores round-tripping through JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metric_cases import make_box_split, make_mask_split

from wsolkit.data.metadata import read_split
from wsolkit.engine.summary import RunSummary
from wsolkit.metrics import (
    BoxEvaluator,
    ClassificationAccuracy,
    EvalProtocol,
    FolderSource,
    MaskEvaluator,
    ScoremapFolder,
    SplitEvaluation,
    SplitScores,
)

SIZE = 64
PROTOCOL = EvalProtocol(eval_size=SIZE, cam_curve_interval=0.01)


@pytest.fixture(scope="module")
def box_case(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("split-box")
    meta_dir, maps_dir, predicted = make_box_split(root, images=20, seed=3, size=SIZE)
    meta = read_split(meta_dir, require_localization=True)
    source = FolderSource(ScoremapFolder.scan(maps_dir, meta.image_ids), SIZE)
    maps = [source.load(i) for i in meta.image_ids]
    rng = np.random.default_rng(0)
    top5 = np.stack(
        [[predicted[i], *rng.permutation([c for c in range(5) if c != predicted[i]])[:4]]
         for i in meta.image_ids]
    )  # fmt: skip
    return meta, maps, top5


def test_the_report_equals_each_evaluator_used_alone(box_case) -> None:
    meta, maps, top5 = box_case
    evaluation = SplitEvaluation(meta, PROTOCOL)
    assert set(evaluation.members) == {"classification", "box"}  # no masks in this split
    for start in range(0, len(maps), 7):  # uneven batches
        ids = meta.image_ids[start : start + 7]
        evaluation.accumulate(maps[start : start + 7], ids, top5=top5[start : start + 7])
    report = evaluation.compute()

    box = BoxEvaluator(meta, PROTOCOL)
    accuracy = ClassificationAccuracy(meta)
    for k, image_id in enumerate(meta.image_ids):
        box.accumulate(maps[k], image_id, predicted_class=int(top5[k, 0]))
    accuracy.accumulate(top5, np.array([meta.labels[i] for i in meta.image_ids]))
    alone = box.compute()
    assert report.images == 20
    np.testing.assert_array_equal(report.box.correct, alone.correct)
    np.testing.assert_array_equal(report.box.correct_top1, alone.correct_top1)
    assert report.classification.to_dict() == accuracy.compute().to_dict()
    scores = report.scores()
    assert scores.top1 == accuracy.compute().accuracy(1)
    assert scores.localization.max_box_acc_v2 == alone.max_box_acc_v2
    assert scores.score_name == "MaxBoxAccV2" and scores.score == alone.max_box_acc_v2
    assert scores.localization.top1_loc.value == alone.top1_loc()


def test_shards_merged_through_their_state_equal_one_pass(box_case) -> None:
    meta, maps, top5 = box_case
    whole = SplitEvaluation(meta, PROTOCOL)
    whole.accumulate(maps, meta.image_ids, top5=top5)
    shards = [SplitEvaluation(meta, PROTOCOL) for _ in range(3)]
    for k, image_id in enumerate(meta.image_ids):
        shards[k % 3].accumulate([maps[k]], [image_id], top5=top5[k : k + 1])
    merged = SplitEvaluation(meta, PROTOCOL)
    for shard in shards:
        merged.merge(shard.state())
    assert merged.images == whole.images == 20
    assert merged.compute().to_dict() == whole.compute().to_dict()


def test_accuracy_is_reported_only_when_every_image_had_predictions(box_case) -> None:
    meta, maps, top5 = box_case
    evaluation = SplitEvaluation(meta, PROTOCOL)
    evaluation.accumulate(maps[:10], meta.image_ids[:10], top5=top5[:10])
    evaluation.accumulate(maps[10:], meta.image_ids[10:])
    report = evaluation.compute()
    assert report.classification is None and report.box.correct_top1 is None
    assert report.scores().top1 is None and report.scores().localization.top1_loc is None


def test_bad_batches_and_foreign_states_are_refused(box_case) -> None:
    meta, maps, _ = box_case
    evaluation = SplitEvaluation(meta, PROTOCOL)
    with pytest.raises(ValueError, match="2 score maps but 1 image ids"):
        evaluation.accumulate(maps[:2], meta.image_ids[:1])
    with pytest.raises(ValueError, match="top5 must be B×k"):
        evaluation.accumulate(maps[:2], meta.image_ids[:2], top5=np.zeros((3, 5), int))
    with pytest.raises(ValueError, match=r"\['mask'\]"):
        evaluation.merge({"split.counts": np.zeros(2, np.int64), "mask.images": np.int64(0)})
    with pytest.raises(ValueError, match="different thresholds"):
        evaluation.merge(SplitEvaluation(meta, EvalProtocol(eval_size=SIZE)).state())


def test_a_mask_split_gets_pxap_only_with_its_mask_folder(tmp_path: Path) -> None:
    meta_dir, mask_root, maps_dir = make_mask_split(tmp_path, images=6, seed=2, size=SIZE)
    meta = read_split(meta_dir, require_localization=True)
    assert set(SplitEvaluation(meta, PROTOCOL).members) == {"classification"}
    evaluation = SplitEvaluation(meta, PROTOCOL, mask_root=mask_root)
    assert set(evaluation.members) == {"classification", "mask"}
    maps = [np.load(maps_dir / f"{i}.npy") for i in meta.image_ids]
    evaluation.accumulate(maps, meta.image_ids)
    alone = MaskEvaluator(meta, PROTOCOL, mask_root=mask_root)
    for scoremap, image_id in zip(maps, meta.image_ids, strict=True):
        alone.accumulate(scoremap, image_id)
    scores = evaluation.compute().scores()
    assert scores.mask.pxap == alone.compute().pxap
    assert scores.score_name == "PxAP" and scores.localization is None


def test_scores_round_trip_through_json(box_case) -> None:
    meta, maps, top5 = box_case
    evaluation = SplitEvaluation(meta, PROTOCOL)
    evaluation.accumulate(maps, meta.image_ids, top5=top5)
    scores = evaluation.compute().scores(curves=True)
    text = json.dumps(scores.to_json())
    again = SplitScores.model_validate_json(text)
    assert again == scores
    assert "mask" not in json.loads(text)  # absent metrics are left out, never null
    values = again.column_values()
    assert values["max_box_acc_v2"] == scores.localization.max_box_acc_v2
    assert values["pxap"] is None and values["top5"] == scores.top5


def test_a_summary_of_an_earlier_wsolkit_reads_as_it_is(tmp_path: Path) -> None:
    """The summary.json shape written before the typed models (a trimmed real one)."""
    old = {
        "run_dir": "runs/r",
        "settings": {"data": {"dataset": "synthetic"}, "model": {"backbone": "tiny"},
                     "method": {"name": "cam"}, "eval": {"iou_thresholds": [50]}},
        "epochs": 2,
        "best_epoch": None,
        "best_val_score": None,
        "test": {"last": {"images": 8, "top1": 50.0, "top5": 100.0,
                          "localization": {"max_box_acc_v2": 40.0, "max_box_acc": {"50": 40.0},
                                           "best_threshold": {"50": 0.25}},
                          "score_name": "MaxBoxAccV2", "score": 40.0}},
        "train_time_s": 3.5,
        "skipped_images": 0,
        "world_size": 1,
    }  # fmt: skip
    (tmp_path / "summary.json").write_text(json.dumps(old))
    summary = RunSummary.read(tmp_path / "summary.json")
    assert (summary.dataset, summary.backbone, summary.method) == ("synthetic", "tiny", "cam")
    assert summary.iou_thresholds == [50] and summary.test["last"].score == 40.0
    assert json.loads(summary.to_json_text()) == old
