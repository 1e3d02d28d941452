"""``wsolkit cams import-scoremaps / export-npy / info`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cams_helpers import smooth_maps, write_store
from typer.testing import CliRunner

import wsolkit.cli.cams  # noqa: F401  (registers `wsolkit cams` until the CLI imports it)
from wsolkit.cams import CamBatch, CamStoreWriter
from wsolkit.cli import app
from wsolkit.data.metadata import SplitMetadata, write_split

runner = CliRunner()
IDS = ["a/1.jpg", "a/2.jpg", "b/3.jpg"]


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A metadata split and a score-map folder (float64, canonical layout) for IDS."""
    meta = tmp_path / "meta" / "test"
    write_split(meta, SplitMetadata(list(IDS), dict.fromkeys(IDS, 1), dict.fromkeys(IDS, (9, 9))))
    maps = smooth_maps(3, 24).astype(np.float64)
    maps = (maps - maps.min(axis=(1, 2), keepdims=True)) / np.ptp(maps, axis=(1, 2), keepdims=True)
    for image_id, scoremap in zip(IDS, maps, strict=True):
        (tmp_path / "maps" / image_id).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "maps" / f"{image_id}.npy", scoremap)
    return tmp_path / "maps", meta, maps


def one_error_line(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["cams", "--help"])
    assert result.exit_code == 0
    for command in ("import-scoremaps", "export-npy", "info"):
        assert command in result.output


def test_import_export_round_trip(tmp_path: Path, folder) -> None:
    maps_dir, meta, maps = folder
    store = tmp_path / "s.h5"
    args = ["cams", "import-scoremaps", str(maps_dir), "--metadata", str(meta), "--out", str(store)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "store": str(store),
        "rows": 3,
        "imported": 3,
        "resumed_from": 0,
        "map_shape": [24, 24],
        "dtype": "float64",
        "ignored_files": 0,
    }
    again = runner.invoke(app, args)  # the same import again: nothing left to do
    assert again.exit_code == 0 and "wrote 0 score maps" in again.output

    out = tmp_path / "out"
    result = runner.invoke(
        app, ["cams", "export-npy", str(store), str(out), "--layout", "without-ext"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 score maps (24x24 float64, without-ext)" in result.output
    for image_id, scoremap in zip(IDS, maps, strict=True):
        back = np.load(out / f"{image_id[:-4]}.npy")
        assert back.tobytes() == scoremap.tobytes()

    info = runner.invoke(app, ["cams", "info", str(store), "--json"])
    assert info.exit_code == 0, info.output
    facts = json.loads(info.output)
    assert facts["rows_done"] == 3 and facts["resolution"] == "full" and facts["complete"]
    assert facts["source"] == f"scoremaps:{maps_dir.resolve()}"
    table = runner.invoke(app, ["cams", "info", str(store)])
    assert table.exit_code == 0 and "wsolkit-cams/1" in table.output


def test_errors_are_one_line(tmp_path: Path, folder) -> None:
    maps_dir, meta, _ = folder
    missing = runner.invoke(
        app,
        [
            "cams",
            "import-scoremaps",
            str(tmp_path / "none"),
            "--metadata",
            str(meta),
            "--out",
            str(tmp_path / "x.h5"),
        ],
    )
    assert "score map folder not found" in one_error_line(missing)

    (tmp_path / "junk.h5").write_bytes(b"junk" * 100)
    for command in (
        ["export-npy", str(tmp_path / "junk.h5"), str(tmp_path / "o")],
        ["info", str(tmp_path / "junk.h5")],
    ):
        line = one_error_line(runner.invoke(app, ["cams", *command]))
        assert "junk.h5" in line and "not an HDF5 file" in line

    other = tmp_path / "other.h5"  # a store of another export at the --out path
    write_store(other, smooth_maps(3, 24), ids=list(IDS), labels=np.ones(3, int))
    refused = runner.invoke(
        app,
        ["cams", "import-scoremaps", str(maps_dir), "--metadata", str(meta), "--out", str(other)],
    )
    assert "--overwrite" in one_error_line(refused)

    bad_layout = runner.invoke(
        app, ["cams", "export-npy", str(other), str(tmp_path / "o"), "--layout", "flat"]
    )
    assert bad_layout.exit_code == 2 and "Traceback" not in bad_layout.output


def test_incomplete_store_needs_allow_incomplete(tmp_path: Path) -> None:
    store, cams = tmp_path / "part.h5", smooth_maps(10, 7)
    with CamStoreWriter.open_or_resume(
        store,
        ids=[f"{i}.jpg" for i in range(10)],
        labels=np.zeros(10, int),
        provenance={"eval_size": 28},
        map_shape=(7, 7),
        predictions=False,
    ) as writer:
        writer.put(CamBatch(cams[:4]))
    line = one_error_line(
        runner.invoke(app, ["cams", "export-npy", str(store), str(tmp_path / "o")])
    )
    assert "incomplete (4 of 10 rows)" in line
    result = runner.invoke(
        app, ["cams", "export-npy", str(store), str(tmp_path / "o"), "--allow-incomplete"]
    )
    assert result.exit_code == 0 and "incomplete" in result.output
    assert len(list((tmp_path / "o").glob("*.npy"))) == 4


def _box_split(folder: Path, ids: list[str], labels: list[int]) -> Path:
    boxes = {i: [(1, 1, 6, 6)] for i in ids}
    meta = SplitMetadata(list(ids), dict(zip(ids, labels, strict=True)),
                         dict.fromkeys(ids, (9, 9)), boxes)  # fmt: skip
    write_split(folder, meta)
    return folder


def test_eval_refuses_metadata_that_disagrees_with_the_store(tmp_path: Path) -> None:
    """``eval --cams STORE --metadata M``: M must list the store's images with its labels."""
    store = tmp_path / "s.h5"
    write_store(store, smooth_maps(3, 8), ids=list(IDS), labels=np.array([0, 1, 2]),
                provenance={"split": "test", "eval_size": 24})  # fmt: skip
    same = _box_split(tmp_path / "same", IDS, [0, 1, 2])
    result = runner.invoke(app, ["eval", "--cams", str(store), "--metadata", str(same), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"] == 3
    cases = {
        "label": (IDS, [0, 2, 2], "labels 'a/2.jpg' as class 1"),
        "missing": (IDS[:2], [0, 1], "holds image 'b/3.jpg', which"),
        "extra": ([*IDS, "c/4.jpg"], [0, 1, 2, 0], "has no map of 'c/4.jpg'"),
    }
    for name, (ids, labels, words) in cases.items():
        meta = _box_split(tmp_path / name, ids, labels)
        result = runner.invoke(app, ["eval", "--cams", str(store), "--metadata", str(meta)])
        assert words in one_error_line(result), (name, result.output)
