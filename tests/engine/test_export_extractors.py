"""Post-hoc score maps through the engine: ``export-cams --extractor``, ``eval --extractor``,
the store's record of what made its maps, and ``compare`` telling the stores apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cams import CamStore
from wsolkit.cli import app
from wsolkit.cli.export import _same_command
from wsolkit.engine.api import train
from wsolkit.engine.build import build_model
from wsolkit.engine.checkpoint import read_checkpoint
from wsolkit.engine.export import ExportOptions, export_cams
from wsolkit.engine.rescore import evaluate_checkpoint
from wsolkit.registry import extractors
from wsolkit.report.compare import label_columns, maps_title, read_store
from wsolkit.settings import Settings

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    root = tmp_path_factory.mktemp("extract")
    prepare_synthetic(root / "data", seed=2, train=32, val=8, test=12, image_size=32, classes=4)
    summary = train(
        overrides=tiny_overrides(root / "data", root / "runs", **{"eval.cam_curve_interval": 0.01})
    )
    assert summary is not None
    return root / "runs" / "r"


def _model_and_images(run: Path):
    """The run's best model in eval mode, and its test split as one batch in store order."""
    payload = read_checkpoint(run / "checkpoints" / "best.pt")
    settings = Settings(**payload.settings)
    built = build_model(settings, payload.dataset.num_classes, weights="none")
    built.model.load_state_dict(payload.model)
    from wsolkit.data.source import DataSource
    from wsolkit.data.transforms import BatchNormalize

    dataset = DataSource.from_settings(settings.data).torch_dataset("test", train=False)
    items = [dataset[i] for i in range(len(dataset))]
    images = BatchNormalize.from_settings(settings.data)(torch.stack([i for i, _, _ in items]))
    labels = torch.tensor([label for _, label, _ in items])
    return built.model.eval(), built.method, images, labels


def test_a_grad_cam_store_holds_the_extractor_s_maps_and_says_so(run, tmp_path) -> None:
    shutil.copytree(run, tmp_path / "r")
    result = runner.invoke(
        app,
        ["export-cams", str(tmp_path / "r"), "--extractor", "grad-cam", "--stage", "conv3",
         "--dtype", "float32", "--topk", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "r" / "cams-test-best-grad-cam-conv3.h5"
    model, method, images, labels = _model_and_images(tmp_path / "r")
    grad_cam = extractors.create("grad-cam")
    expected = _in_batches(grad_cam, method, model, images, labels)
    with CamStore.open(out) as store:
        p = store.provenance
        assert (p.extractor, p.stage, p.method) == ("grad-cam", "conv3", "cam")
        params = extractors.create("grad-cam").params.model_dump(mode="json")
        assert p.extractor_params == (json.dumps(params, sort_keys=True) if params else "")
        stored = torch.from_numpy(store.cams())
        assert tuple(stored.shape[1:]) == tuple(expected.cams.shape[-2:])
        assert torch.equal(stored, expected.cams[:, 0].float())
        top = torch.from_numpy(np.asarray(store.topk_cams()))
    # the top-k maps are the extractor's maps of the predicted classes
    predicted = expected.logits.topk(2, dim=1).indices
    again = _in_batches(grad_cam, method, model, images, predicted)
    assert torch.equal(top, again.cams.float())


def _in_batches(extractor, method, model, images, classes, size: int = 8):
    """The extractor over the export's batches (the run's batch size, 8): logits and maps."""
    parts = [
        extractor.extract(method, model, images[i : i + size], classes[i : i + size], stage="conv3")
        for i in range(0, len(images), size)
    ]
    return parts[0]._replace(
        logits=torch.cat([p.logits for p in parts]),
        cams=torch.cat([p.cams for p in parts]),
        classes=torch.cat([p.classes for p in parts]),
    )


def test_the_default_export_records_cam_and_reads_stores_without_the_record(run, tmp_path) -> None:
    out = tmp_path / "cams.h5"
    export_cams(run, ExportOptions(out=out, checkpoint="last"))
    with CamStore.open(out) as store:
        assert (store.provenance.extractor, store.provenance.stage) == ("cam", "")
        assert store.provenance.extractor_params == ""
    with h5py.File(out, "r+") as fh:  # a store written before extractors existed
        for key in ("extractor", "stage", "extractor_params"):
            del fh.attrs[key]
    with CamStore.open(out) as store:
        assert store.provenance.extractor == "cam"
    again = export_cams(run, ExportOptions(out=out, checkpoint="last"))
    assert (again.written, again.resumed_from) == (0, 12)


def test_a_store_of_another_extractor_is_refused_in_one_line(run, tmp_path) -> None:
    out = tmp_path / "maps.h5"
    export_cams(run, ExportOptions(out=out, extractor="grad-cam"))
    result = runner.invoke(
        app, ["export-cams", str(run), "--out", str(out), "--extractor", "layer-cam"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "was made for extractor 'grad-cam', not 'layer-cam'" in result.output
    assert "--overwrite" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--extractor", "grad-cam", "--stage", "conv9"], ["conv9", "conv1", "conv6"]),
        (["--extractor", "gradcam"], ["gradcam", "grad-cam"]),
        (["--stage", "conv3"], ["--stage", "cam"]),
        (["--extractor", "bagcams", "--extractor-param", "nope=1"], ["nope"]),
        (["--extractor-param", "oops"], ["--extractor-param", "KEY=VALUE"]),
    ],
)
def test_bad_extractor_requests_are_one_line(run, tmp_path, args, words) -> None:
    result = runner.invoke(app, ["export-cams", str(run), "--out", str(tmp_path / "x.h5"), *args])
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert not (tmp_path / "x.h5").exists()


def test_eval_with_an_extractor_equals_evaluating_its_store(run, tmp_path) -> None:
    shutil.copytree(run, tmp_path / "r")
    target = tmp_path / "r"
    done = evaluate_checkpoint(target, extractor="layer-cam", val_taus=False)
    assert done.store == target / "eval-test-best-layer-cam.h5"
    store = tmp_path / "layer-cam.h5"
    export_cams(target, ExportOptions(out=store, extractor="layer-cam", dtype="float32"))
    result = runner.invoke(app, ["eval", "--cams", str(store), "--json"])
    assert result.exit_code == 0, result.output
    assert (
        done.report.to_dict(curves=False)["max_box_acc"] == json.loads(result.stdout)["max_box_acc"]
    )
    cam = evaluate_checkpoint(target, val_taus=False)
    assert cam.store == target / "eval-test-best.h5"
    refused = runner.invoke(app, ["eval", "--cams", str(store), "--extractor", "grad-cam"])
    assert refused.exit_code == 2 and "need a run directory or checkpoint" in refused.output


def test_compare_shows_what_made_each_store(run, tmp_path) -> None:
    own, posthoc = tmp_path / "cams-test-best.h5", tmp_path / "cams-test-best-grad-cam-conv3.h5"
    export_cams(run, ExportOptions(out=own))
    export_cams(run, ExportOptions(out=posthoc, extractor="grad-cam", stage="conv3"))
    rows = read_store(own) + read_store(posthoc)
    assert [(r.extractor, r.stage) for r in rows] == [("cam", ""), ("grad-cam", "conv3")]
    assert ("extractor", "maps") in label_columns(rows)
    assert ("extractor", "maps") not in label_columns(rows[:1])
    assert [maps_title(r) for r in rows] == [rows[0].name, f"{rows[1].name} · grad-cam @ conv3"]
    result = runner.invoke(app, ["compare", str(own), str(posthoc), "--csv"])
    assert result.exit_code == 0, result.output
    header, first, second = result.stdout.splitlines()[:3]
    column = header.split(",").index("extractor")
    assert (first.split(",")[column], second.split(",")[column]) == ("cam", "grad-cam")


def test_the_command_that_continues_an_export_keeps_the_extractor(tmp_path) -> None:
    options = ExportOptions(
        extractor="bagcams", stage="layer3", extractor_params={"published_pipeline": True}
    )
    line = _same_command(tmp_path / "run", options, None, None)
    assert line.endswith(
        "--extractor bagcams --stage layer3 --extractor-param published_pipeline=true"
    )


def test_score_cam_reports_its_forward_passes_within_each_batch(run, tmp_path) -> None:
    calls: list[tuple[int, int, str]] = []
    result = export_cams(
        run,
        ExportOptions(out=tmp_path / "s.h5", extractor="score-cam", stage="conv1"),
        progress=lambda done, total, label="": calls.append((done, total, label)),
    )
    assert result.images == 12
    passes = [c for c in calls if c[2] == "Score-CAM forward passes"]
    channels = 16  # tiny's conv1
    assert passes and {total for _, total, _ in passes} == {8 * channels, 4 * channels}
    assert passes[-1][0] == passes[-1][1]  # each batch's passes counted to the end
    rows = [c for c in calls if c[2] == ""]
    assert rows[-1][:2] == (12, 12)  # the rows, as for every export
