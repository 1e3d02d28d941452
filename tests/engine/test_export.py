"""export-cams on a real (tiny) trained run: store contents, round trip, resume, refusal."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cams import CamStore, CamStoreSource
from wsolkit.cli import app
from wsolkit.data.metadata import read_split
from wsolkit.engine.api import train
from wsolkit.engine.checkpoint import load_checkpoint, save_checkpoint
from wsolkit.engine.export import ExportOptions, export_cams
from wsolkit.metrics import EvalProtocol, evaluate_scoremaps

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    root = tmp_path_factory.mktemp("export")
    prepare_synthetic(root / "data", seed=1, train=32, val=16, test=24, image_size=32, classes=4)
    summary = train(
        overrides=tiny_overrides(root / "data", root / "runs", **{"eval.cam_curve_interval": 0.01})
    )
    assert summary is not None
    return root / "runs" / "r"


def test_store_holds_the_split_and_evaluates_like_training(run, tmp_path) -> None:
    out = tmp_path / "cams.h5"
    result = export_cams(run, ExportOptions(out=out, dtype="float32", checkpoint="last"))
    assert (result.images, result.written, result.resumed_from) == (24, 24, 0)
    with CamStore.open(out) as store:
        assert store.complete and len(store) == 24
        meta = read_split(store.provenance.metadata, require_localization=True)
        assert list(store.ids) == meta.image_ids
        assert list(store.labels) == [meta.labels[i] for i in meta.image_ids]
        assert store.provenance.backbone == "tiny" and store.provenance.split == "test"
    with CamStoreSource(out) as source:
        protocol = EvalProtocol(eval_size=32, cam_curve_interval=0.01)
        report = evaluate_scoremaps(source, meta, protocol)
    # The run's own test evaluation of the last checkpoint used the same CAMs in memory.
    last = {r["checkpoint"]: r for r in _records(run) if r["kind"] == "test"}["last"]
    assert report.box is not None
    assert report.box.to_dict(curves=False)["max_box_acc"] == last["localization"]["max_box_acc"]


def test_rerun_resumes_without_duplicates_and_refuses_another_checkpoint(run, tmp_path) -> None:
    out = tmp_path / "cams.h5"
    export_cams(run, ExportOptions(out=out, checkpoint="last"))
    again = export_cams(run, ExportOptions(out=out, checkpoint="last"))
    assert (again.written, again.resumed_from) == (0, 24)
    other = tmp_path / "other.pt"
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    payload["epoch"] += 1  # another file: another SHA-256
    save_checkpoint(
        other, {k: v for k, v in payload.items() if k not in ("format", "wsolkit_version")}
    )
    result = runner.invoke(app, ["export-cams", str(other), "--out", str(out)])
    assert (
        result.exit_code != 0
        and "--overwrite" in result.output
        and "Traceback" not in result.output
    )
    assert (
        runner.invoke(app, ["export-cams", str(other), "--out", str(out), "--overwrite"]).exit_code
        == 0
    )


def test_cli_writes_overlays(run, tmp_path) -> None:
    shutil.copytree(run, tmp_path / "r")
    result = runner.invoke(
        app, ["export-cams", str(tmp_path / "r"), "--overlays", "3", str(tmp_path / "ov")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "cams-test-best.h5").is_file()
    pictures = sorted((tmp_path / "ov").iterdir())
    assert len(pictures) == 3
    for picture in pictures:
        assert cv2.imread(str(picture)).shape == (32, 32, 3)


def test_bad_targets_are_one_line(tmp_path) -> None:
    result = runner.invoke(app, ["export-cams", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "no such run directory" in result.output
    result = runner.invoke(app, ["export-cams", str(tmp_path), "--checkpoint", "first"])
    assert result.exit_code == 2


def _records(run: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_eval_cams_reports_localization_and_accuracy_from_the_store(run, tmp_path) -> None:
    import json

    out = tmp_path / "cams.h5"
    export_cams(run, ExportOptions(out=out, dtype="float32", checkpoint="last"))
    result = runner.invoke(
        app, ["eval", "--cams", str(out), "--cam-curve-interval", "0.01", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    last = {r["checkpoint"]: r for r in _records(run) if r["kind"] == "test"}["last"]
    assert data["max_box_acc"] == last["localization"]["max_box_acc"]
    assert data["top1_loc"]["value"] == last["localization"]["top1_loc"]["value"]
    assert (data["top1"], data["top5"]) == (last["top1"], last["top5"])
    assert data["pxap"] == last["mask"]["pxap"]
