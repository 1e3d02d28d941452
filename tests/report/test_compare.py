"""wsolkit compare: golden outputs on hand-made runs and stores, PNG figures, bad inputs.

Refresh the golden files after an intended format change with
``WSOLKIT_REGEN_GOLDEN=1 python -m pytest tests/report/test_compare.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from wsolkit.cams import CamBatch, CamStoreWriter
from wsolkit.cli import app
from wsolkit.settings import load_settings

GOLDEN = Path(__file__).parent / "golden"
runner = CliRunner()


def curve(peak: float, at: int, n: int = 100) -> list[float]:
    """A BoxAcc curve over n thresholds rising to ``peak`` at index ``at``."""
    x = np.arange(n)
    return [round(float(v), 4) for v in peak * np.exp(-(((x - at) / 25.0) ** 2))]


def result(
    top1: float, levels: tuple[float, float, float], pxap: float | None, peak_at: int
) -> dict:
    loc = {
        "max_box_acc_v2": sum(levels) / 3,
        "max_box_acc": dict(zip(("30", "50", "70"), levels, strict=True)),
        "best_threshold": {"30": 0.1, "50": peak_at / 100, "70": 0.5},
        "gt_known_loc": {"value": levels[1], "threshold": peak_at / 100},
        "top1_loc": {
            "value": levels[1] * top1 / 100,
            "threshold": 0.3,
            "at_gt_known_best_threshold": 1.0,
        },
        "curves": {
            "thresholds": [i / 100 for i in range(100)],
            "box_acc": {"50": curve(levels[1], peak_at)},
        },
    }
    out = {"images": 10, "top1": top1, "top5": min(top1 + 10, 100.0), "localization": loc}
    if pxap is not None:
        out["mask"] = {"pxap": pxap}
    return out


def make_run(root: Path, name: str, dataset: str, method: str, best: dict, last: dict) -> Path:
    settings = load_settings(
        overrides={"data.dataset": dataset, "model.backbone": "tiny", "method.name": method}
    )
    run = root / name
    run.mkdir(parents=True)
    summary = {
        "settings": settings.model_dump(mode="json"),
        "epochs": 4,
        "best_epoch": 3,
        "test": {"best": best, "last": last},
    }
    (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        make_run(
            tmp_path,
            "cam-s0",
            "synthetic",
            "cam",
            result(94.1, (99.0, 60.5, 9.5), 46.1, 20),
            result(94.0, (99.0, 60.0, 9.0), 46.0, 22),
        ),
        make_run(
            tmp_path,
            "aeil-s0",
            "synthetic",
            "aligned-eil",
            result(94.5, (99.5, 65.0, 19.5), 38.0, 35),
            result(94.7, (99.4, 64.0, 19.0), 37.5, 33),
        ),
        make_run(
            tmp_path,
            "cub-vgg",
            "cub",
            "aligned-eil",
            result(75.0, (96.0, 80.0, 64.0), None, 40),
            result(74.0, (95.0, 79.0, 63.0), None, 41),
        ),
    ]


def check_golden(name: str, text: str, tmp_path: Path) -> None:
    text = text.replace(str(tmp_path), "<tmp>")
    path = GOLDEN / name
    if os.environ.get("WSOLKIT_REGEN_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from the golden file"


@pytest.mark.parametrize(
    ("flag", "golden"),
    [("--markdown", "compare.md"), ("--csv", "compare.csv"), ("--json", "compare.json")],
)
def test_outputs_match_golden_files(runs, tmp_path, flag, golden) -> None:
    result_ = runner.invoke(app, ["compare", *map(str, runs), flag])
    assert result_.exit_code == 0, result_.output
    check_golden(golden, result_.stdout, tmp_path)


def test_groups_best_values_and_filters(runs, tmp_path) -> None:
    data = json.loads(runner.invoke(app, ["compare", str(tmp_path / "*"), "--json"]).stdout)
    assert [(g["dataset"], g["split"], len(g["rows"])) for g in data] == [
        ("synthetic", "test", 4),
        ("cub", "test", 2),
    ]
    markdown = runner.invoke(app, ["compare", *map(str, runs), "--markdown"]).stdout
    synthetic = markdown.split("**cub / test**")[0]
    assert (
        "| aeil-s0 | tiny | aligned-eil | best |" in synthetic and "**65.00**" in synthetic
    )  # best @50 bold
    assert "**46.10**" in synthetic  # best PxAP is CAM's
    rows = runner.invoke(
        app,
        [
            "compare",
            *map(str, runs),
            "--where",
            "method=cam",
            "--where",
            "checkpoint=best",
            "--csv",
        ],
    ).stdout.splitlines()
    assert len(rows) == 2 and rows[1].startswith("cam-s0,synthetic,test,tiny,cam,best")
    ordered = runner.invoke(
        app, ["compare", *map(str, runs[:2]), "--sort", "box_acc_70", "--csv"]
    ).stdout.splitlines()
    assert [r.split(",")[0] + "/" + r.split(",")[5] for r in ordered[1:]] == [
        "aeil-s0/best",
        "aeil-s0/last",
        "cam-s0/best",
        "cam-s0/last",
    ]


def test_table_and_plot(runs, tmp_path) -> None:
    out = tmp_path / "curves.png"
    result_ = runner.invoke(app, ["compare", *map(str, runs), "--plot", str(out)])
    assert result_.exit_code == 0, result_.output
    assert (
        "synthetic / test" in result_.stdout and "cub / test · tiny · aligned-eil" in result_.stdout
    )
    picture = cv2.imread(str(out))
    assert picture.shape == (480, 2 * 640, 3)  # two panels (synthetic, cub), 6.4×4.8 in at 100 dpi


def test_missing_and_unreadable_inputs_are_warnings_with_exit_code_1(runs, tmp_path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    result_ = runner.invoke(
        app, ["compare", str(runs[0]), str(tmp_path / "nope"), str(broken), "--csv"]
    )
    assert result_.exit_code == 1
    assert "skipped" in result_.stderr and "nope" in result_.stderr and "broken" in result_.stderr
    assert result_.stdout.count("cam-s0") == 2  # the readable run is still compared
    result_ = runner.invoke(app, ["compare", str(runs[0]), "--sort", "speed"])
    assert result_.exit_code == 2 and "not a column" in result_.output
    result_ = runner.invoke(app, ["compare", str(runs[0]), "--where", "colour=red"])
    assert result_.exit_code == 2 and "expected KEY=VALUE" in result_.output


def test_gallery_of_two_stores(tmp_path) -> None:
    from wsolkit.data.metadata import read_split
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    prepare_synthetic(tmp_path / "data", train=4, val=4, test=6, image_size=32, classes=2)
    meta = read_split(tmp_path / "data" / "test", require_localization=True)
    settings = load_settings(
        overrides={
            "data.root": tmp_path / "data",
            "data.dataset": "synthetic",
            "model.backbone": "tiny",
        }
    )
    stores = []
    for name, seed in (("cam", 0), ("aligned-eil", 1)):
        rng = np.random.default_rng(seed)
        path = tmp_path / f"{name}.h5"
        provenance = {
            "checkpoint_sha256": f"{seed:064d}",
            "backbone": "tiny",
            "method": name,
            "dataset": "synthetic",
            "split": "test",
            "settings": settings.model_dump_json(),
            "input_size": 32,
            "eval_size": 32,
            "metadata": str(tmp_path / "data" / "test"),
        }
        labels = [meta.labels[i] for i in meta.image_ids]
        with CamStoreWriter.open_or_resume(
            path, ids=meta.image_ids, labels=labels, provenance=provenance, map_shape=(8, 8)
        ) as writer:
            top = np.tile(np.arange(2), (6, 1))
            writer.put(
                CamBatch(
                    cams=rng.random((6, 8, 8)).astype(np.float32),
                    top5_classes=top,
                    top5_scores=np.full((6, 2), 0.5),
                )
            )
        stores.append(path)
    out = tmp_path / "gallery.png"
    result_ = runner.invoke(
        app, ["compare", *map(str, stores), "--gallery", str(out), "--images", "4"]
    )
    assert result_.exit_code == 0, result_.output
    assert cv2.imread(str(out)).shape == (
        18 + 4 * 160,
        3 * 160,
        3,
    )  # header + 4 rows; image + 2 stores
    result_ = runner.invoke(app, ["compare", str(stores[0]), "--gallery", str(out)])
    assert result_.exit_code == 0


def test_long_run_names_fit_80_columns_with_a_key_below(tmp_path) -> None:
    import io

    from rich.console import Console

    from wsolkit.report import compare as cmp
    from wsolkit.report.tables import compare_tables

    names = ["synthetic-tiny-aligned-eil-20261201-225736", "synthetic-tiny-cam-20261201-230101"]
    runs = [
        make_run(tmp_path, names[0], "synthetic", "aligned-eil",
                 result(94.5, (99.5, 65.0, 19.5), 38.0, 35), result(94.7, (99.4, 64.0, 19.0), 37.5, 33)),
        make_run(tmp_path, names[1], "synthetic", "cam",
                 result(94.1, (99.0, 60.5, 9.5), 46.1, 20), result(94.0, (99.0, 60.0, 9.0), 46.0, 22)),
    ]  # fmt: skip
    rows = [row for run in runs for row in cmp.read_run(run)]
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, highlight=False, color_system=None)
    for table in compare_tables(rows):
        console.print(table)
    text = buffer.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    short = cmp.short_names(names)
    assert short == {names[0]: "aligned-…-225736", names[1]: "cam-2026…-230101"}
    body = [line for line in lines if line.startswith(tuple(short.values())) and "=" not in line]
    assert len(body) == 4 and all(" best " in line or " last " in line for line in body)
    assert all(line.rstrip().endswith(("38.00", "37.50", "46.10", "46.00")) for line in body)
    assert f"{short[names[0]]} = {names[0]}" in text.replace("\n", " ")


def test_the_plot_names_each_curve_once() -> None:
    from wsolkit.report.compare import CompareRow
    from wsolkit.report.figures import _distinct_curves

    def row(name: str, checkpoint: str, source: str, curve: list[float]) -> CompareRow:
        return CompareRow(name, source, "synthetic", "test", "tiny", "cam", checkpoint,
                          curve_50=curve, thresholds=[0.0, 0.5])  # fmt: skip

    rows = [
        row("r", "best", "runs/r", [10.0, 20.0]),
        row("r", "last", "runs/r", [10.0, 20.0]),  # best is the last epoch: the same curve
        row("r", "best", "runs/r/cams-test-best.h5", [10.0, 20.0]),
        row("s", "last", "runs/s", [30.0, 5.0]),
    ]
    curves = _distinct_curves(rows, {"r": "r", "s": "s"})
    assert list(curves.values()) == [["r · best · run", "r · last · run", "r · best · store"],
                                     ["s · last · run"]]  # fmt: skip
