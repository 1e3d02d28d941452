"""Validation protocols: val's thresholds applied to test, per-class val budgets, extra val box
sets choosing the checkpoint — in training, in ``eval`` and in ``compare``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.metadata import read_split
from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.engine.api import train
from wsolkit.engine.rundata import per_class
from wsolkit.errors import MetadataError, SettingsError

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("protocols") / "data"
    prepare_synthetic(root, seed=7, train=32, val=24, test=16, image_size=32, classes=4)
    return root


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("protocol-runs")
    summary = train(overrides=tiny_overrides(data, out, **{"optim.epochs": 2}))
    assert summary is not None
    return out / "r"


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_records_val_taus_and_reads_test_at_them(run) -> None:
    summary = json.loads((run / "summary.json").read_text())
    epochs = [r for r in records(run) if r["kind"] == "epoch"]
    for record in epochs:  # every validation records its thresholds
        assert record["val_tau"]["box"] == record["val"]["localization"]["best_threshold"]
        assert record["val_tau"]["mask"] == record["val"]["mask"]["piou"]["threshold"]
    best = next(r for r in epochs if r["epoch"] == summary["best_epoch"])
    assert summary["best_val_tau"] == best["val_tau"]
    at_tau = summary["test"]["best"]["at_tau"]
    assert at_tau["taus"] == best["val_tau"]
    curves = summary["test"]["best"]["localization"]["curves"]
    for level, tau in at_tau["taus"]["box"].items():  # the test curve read at val's τ
        index = min(
            range(len(curves["thresholds"])), key=lambda i: abs(curves["thresholds"][i] - tau)
        )
        assert at_tau["box_acc"][level] == curves["box_acc"][level][index]
    assert at_tau["mean"] == sum(at_tau["box_acc"].values()) / 3
    assert 0 <= at_tau["mask"]["iou"] <= 100


def test_eval_of_a_run_prints_the_val_tau_numbers_beside_the_oracle(run, tmp_path) -> None:
    import shutil

    copy = Path(shutil.copytree(run, tmp_path / "r"))
    result = runner.invoke(app, ["eval", str(copy), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = json.loads((copy / "summary.json").read_text())
    assert data["at_tau"]["box_acc"] == summary["test"]["best"]["at_tau"]["box_acc"]
    assert (copy / "eval-val-best.h5").is_file()  # the val split's CAMs, cached too
    table = runner.invoke(app, ["eval", str(copy), "--device", "cpu"])
    assert "at val τ" in table.stdout and "mean best IoU" in table.stdout


def test_eval_tau_and_tau_from_on_stores(run, tmp_path) -> None:
    from wsolkit.engine.export import ExportOptions, export_cams

    stores = {}
    for split in ("val", "test"):
        options = ExportOptions(split=split, checkpoint="best", out=tmp_path / f"{split}.h5")
        stores[split] = export_cams(run, options).path
    base = ["eval", "--cams", str(stores["test"]), "--cam-curve-interval", "0.05", "--json"]
    given = json.loads(runner.invoke(app, [*base, "--tau", "0.25"]).stdout)["at_tau"]
    assert given["taus"]["box"] == {"30": 0.25, "50": 0.25, "70": 0.25}
    from_val = runner.invoke(app, [*base, "--tau-from", str(stores["val"])])
    assert from_val.exit_code == 0, from_val.output
    val = json.loads(runner.invoke(app, ["eval", "--cams", str(stores["val"]),
                                         "--cam-curve-interval", "0.05", "--json"]).stdout)  # fmt: skip
    assert json.loads(from_val.stdout)["at_tau"]["taus"]["box"] == val["best_threshold"]
    both = runner.invoke(app, [*base, "--tau", "0.2", "--tau-from", str(stores["val"])])
    assert both.exit_code == 2 and "not both" in both.output
    off = runner.invoke(app, [*base, "--tau", "0.33"])
    assert off.exit_code == 2 and "not on the sweep" in off.output


def test_per_class_val_budgets_are_seeded_and_recorded(data, tmp_path) -> None:
    val = read_split(data / "val")
    chosen = per_class(val, 2, seed=3)
    labels = [val.labels[i] for i in chosen]
    assert all(labels.count(k) == 2 for k in range(4)) and len(chosen) == 8
    assert chosen == [i for i in val.image_ids if i in set(chosen)]  # the split's order
    code = (
        "import sys; from wsolkit.data.metadata import read_split; "
        "from wsolkit.engine.rundata import per_class; "
        "print(','.join(per_class(read_split(sys.argv[1]), 2, seed=3)))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(data / "val")], capture_output=True, text=True, check=True
    )
    assert other.stdout.strip().split(",") == chosen  # another process, the same draw
    assert per_class(val, 2, seed=4) != chosen
    summary = train(
        overrides=tiny_overrides(
            data, tmp_path, "b", **{"data.val_per_class": 2, "runtime.seed": 3}
        )
    )
    assert summary is not None
    written = (tmp_path / "b" / "val_ids.txt").read_text().split()
    assert written == chosen
    val_record = next(r for r in records(tmp_path / "b") if r["kind"] == "epoch")["val"]
    assert val_record["images"] == 8


def write_box_set(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "localization.txt").write_text("".join(f"{line}\n" for line in lines))
    return folder


def test_an_extra_val_box_set_can_choose_the_checkpoint(data, tmp_path) -> None:
    val = read_split(data / "val")
    whole = [f"{i},0,0,{w - 1},{h - 1}" for i, (w, h) in val.sizes.items()]  # whole images
    boxes = write_box_set(tmp_path / "whole", whole)
    settings = tiny_overrides(
        data, tmp_path, "p",
        **{"optim.epochs": 2, "data.val_boxes": {"whole": boxes}, "eval.select_by": "whole"},
    )  # fmt: skip
    summary = train(overrides=settings)
    assert summary is not None and summary.selected_by == "whole"
    epochs = [r for r in records(tmp_path / "p") if r["kind"] == "epoch"]
    for record in epochs:
        assert set(record["val"]["box_sets"]) == {"whole"}
        assert record["val"]["box_sets"]["whole"]["images"] == len(val.image_ids)
    scores = [r["val"]["box_sets"]["whole"]["score"] for r in epochs]
    assert summary.best_val_score == max(scores)  # chosen by the whole-image boxes
    table = runner.invoke(app, ["compare", str(tmp_path / "p"), "--csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(table)))
    selected = {row["checkpoint"]: row["selected_by"] for row in rows}
    assert selected == {"last": "", "best": "whole"}  # only the chosen checkpoint names its rule


def test_box_sets_and_selection_are_checked(data, tmp_path) -> None:
    val = read_split(data / "val")
    first, second = val.image_ids[:2]
    bad = write_box_set(tmp_path / "bad", [f"{first},0,0,5,5", "not/in/val.png,0,0,5,5"])
    with pytest.raises(MetadataError, match=r"localization.txt:2: image id 'not/in/val.png'"):
        train(overrides=tiny_overrides(data, tmp_path, "x", **{"data.val_boxes": {"bad": bad}}))
    partial = write_box_set(tmp_path / "partial", [f"{first},0,0,5,5"])
    with pytest.raises(MetadataError, match=f"image '{second}' has no box"):
        train(overrides=tiny_overrides(data, tmp_path, "y", **{"data.val_boxes": {"p": partial}}))
    with pytest.raises(SettingsError, match="eval.select_by = 'rpn': use one of gt"):
        train(overrides=tiny_overrides(data, tmp_path, "z", **{"eval.select_by": "rpn"}))
    assert not any((tmp_path / name).exists() for name in ("x", "y", "z"))
