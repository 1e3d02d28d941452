"""``wsolkit prepare cub|folder`` end to end, and user errors as one line without traceback."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wsolkit.cli import app

runner = CliRunner()


def _load_fake_trees():
    path = Path(__file__).parents[1] / "data" / "fake_trees.py"
    spec = importlib.util.spec_from_file_location("wsolkit_test_fake_trees", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


trees = _load_fake_trees()

ALB, LAY, SOO = trees.CUB_CLASSES
# What `prepare cub ROOT --val-per-class 1` writes for trees.make_cub (seed 0), file by file.
CUB_EXPECTED = {
    "train/image_ids.txt": [
        f"{ALB}/Black_footed_Albatross_0002.jpg",
        f"{LAY}/Laysan_Albatross_0006.jpg",
        f"{SOO}/Sooty_Albatross_0011.jpg",
    ],
    "train/class_labels.txt": [
        f"{ALB}/Black_footed_Albatross_0002.jpg,0",
        f"{LAY}/Laysan_Albatross_0006.jpg,1",
        f"{SOO}/Sooty_Albatross_0011.jpg,2",
    ],
    "train/image_sizes.txt": [
        f"{ALB}/Black_footed_Albatross_0002.jpg,48,34",
        f"{LAY}/Laysan_Albatross_0006.jpg,64,42",
        f"{SOO}/Sooty_Albatross_0011.jpg,84,52",
    ],
    "train/localization.txt": [
        f"{ALB}/Black_footed_Albatross_0002.jpg,2,2,24,15",
        f"{LAY}/Laysan_Albatross_0006.jpg,2,2,24,19",
        f"{SOO}/Sooty_Albatross_0011.jpg,3,2,26,24",
    ],
    "val/image_ids.txt": [
        f"{ALB}/Black_footed_Albatross_0003.jpg",
        f"{LAY}/Laysan_Albatross_0007.jpg",
        f"{SOO}/Sooty_Albatross_0010.jpg",
    ],
    "val/class_labels.txt": [
        f"{ALB}/Black_footed_Albatross_0003.jpg,0",
        f"{LAY}/Laysan_Albatross_0007.jpg,1",
        f"{SOO}/Sooty_Albatross_0010.jpg,2",
    ],
    "val/image_sizes.txt": [
        f"{ALB}/Black_footed_Albatross_0003.jpg,52,36",
        f"{LAY}/Laysan_Albatross_0007.jpg,68,44",
        f"{SOO}/Sooty_Albatross_0010.jpg,80,50",
    ],
    "val/localization.txt": [
        f"{ALB}/Black_footed_Albatross_0003.jpg,3,2,26,16",
        f"{LAY}/Laysan_Albatross_0007.jpg,3,2,26,20",
        f"{SOO}/Sooty_Albatross_0010.jpg,2,2,24,23",
    ],
    "test/image_ids.txt": [
        f"{ALB}/Black_Footed_Albatross_0046_18.jpg",
        f"{ALB}/Black_footed_Albatross_0004.jpg",
        f"{LAY}/Laysan_Albatross_0005.jpg",
        f"{LAY}/Laysan_Albatross_0008.jpg",
        f"{SOO}/Sooty_Albatross_0009.jpg",
        f"{SOO}/Sooty_Albatross_0012.jpg",
    ],
    "test/class_labels.txt": [
        f"{ALB}/Black_Footed_Albatross_0046_18.jpg,0",
        f"{ALB}/Black_footed_Albatross_0004.jpg,0",
        f"{LAY}/Laysan_Albatross_0005.jpg,1",
        f"{LAY}/Laysan_Albatross_0008.jpg,1",
        f"{SOO}/Sooty_Albatross_0009.jpg,2",
        f"{SOO}/Sooty_Albatross_0012.jpg,2",
    ],
    "test/image_sizes.txt": [
        f"{ALB}/Black_Footed_Albatross_0046_18.jpg,500,335",
        f"{ALB}/Black_footed_Albatross_0004.jpg,56,38",
        f"{LAY}/Laysan_Albatross_0005.jpg,60,40",
        f"{LAY}/Laysan_Albatross_0008.jpg,72,46",
        f"{SOO}/Sooty_Albatross_0009.jpg,76,48",
        f"{SOO}/Sooty_Albatross_0012.jpg,88,54",
    ],
    "test/localization.txt": [
        f"{ALB}/Black_Footed_Albatross_0046_18.jpg,60,27,385,331",  # SPEC.md §1's example
        f"{ALB}/Black_footed_Albatross_0004.jpg,4,2,28,17",
        f"{LAY}/Laysan_Albatross_0005.jpg,1,2,22,18",
        f"{LAY}/Laysan_Albatross_0008.jpg,4,2,28,21",
        f"{SOO}/Sooty_Albatross_0009.jpg,1,2,22,22",
        f"{SOO}/Sooty_Albatross_0012.jpg,4,2,28,25",
    ],
}


@pytest.fixture(scope="module")
def cub_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trees.make_cub(tmp_path_factory.mktemp("cli") / "CUB_200_2011")


@pytest.fixture
def cub(tmp_path: Path, cub_template: Path) -> Path:
    root = tmp_path / "CUB_200_2011"
    shutil.copytree(cub_template, root)
    return root


def _written(out: Path) -> dict[str, list[str]]:
    return {
        f"{p.parent.name}/{p.name}": p.read_text().splitlines() for p in sorted(out.glob("*/*.txt"))
    }


def _assert_one_line_error(result, *parts: str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def test_prepare_cub_end_to_end(cub: Path) -> None:
    result = runner.invoke(app, ["prepare", "cub", str(cub), "--val-per-class", "1"])
    assert result.exit_code == 0, result.output
    out = cub / "wsolkit"
    written = _written(out)
    assert list(written) == sorted(CUB_EXPECTED)
    for name, lines in CUB_EXPECTED.items():
        assert written[name] == lines, name
    assert "train" in result.output and "val" in result.output and "test" in result.output
    assert "drawn with seed 0" in result.output  # the carved val split is documented
    assert (out / "dataset.yaml").exists()


def test_prepare_cub_json_summary_and_out(cub: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    result = runner.invoke(
        app, ["prepare", "cub", str(cub), "--out", str(out), "--val-per-class", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["out_dir"] == str(out)
    assert summary["splits"] == {
        "train": {"images": 6, "classes": 3, "boxes": 6},
        "test": {"images": 6, "classes": 3, "boxes": 6},
    }
    assert any("no val split" in n for n in summary["notes"])


def test_prepare_refuses_to_overwrite(cub: Path) -> None:
    assert runner.invoke(app, ["prepare", "cub", str(cub)]).exit_code == 0
    result = runner.invoke(app, ["prepare", "cub", str(cub)])
    _assert_one_line_error(result, "already holds a prepared dataset", "--overwrite")
    assert runner.invoke(app, ["prepare", "cub", str(cub), "--overwrite"]).exit_code == 0


def _replace_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


CUB_ERRORS = {
    "duplicate id": ("images.txt", 3, f"2 {LAY}/x.jpg", "duplicate image id '2' (first on line 2)"),
    "unknown id": ("bounding_boxes.txt", 4, "77 1 1 5 5", "image id '77' is not listed in"),
    "label out of range": ("image_class_labels.txt", 6, "6 0", "class id 0 must be >= 1"),
    "malformed line": ("train_test_split.txt", 2, "2 1 extra", "expected 2 fields (id is_train)"),
    "non-numeric": ("bounding_boxes.txt", 5, "5 1.0 2.0 wide 5", "w 'wide' is not a number"),
    "box outside": ("bounding_boxes.txt", 1, "1 60.0 27.0 325.0 309.0", "(60,27,385,336) lies"),
    "x1 <= x0": ("bounding_boxes.txt", 2, "2 9.0 2.0 0.5 3.0", "(9,2,9,5) needs x1 > x0"),
}


@pytest.mark.parametrize("case", list(CUB_ERRORS), ids=list(CUB_ERRORS))
def test_prepare_cub_errors_are_one_line(cub: Path, case: str) -> None:
    name, line, text, value = CUB_ERRORS[case]
    _replace_line(cub / name, line, text)
    result = runner.invoke(app, ["prepare", "cub", str(cub)])
    _assert_one_line_error(result, f"{cub / name}:{line}: ", value)
    assert not (cub / "wsolkit").exists()


def test_prepare_cub_unreadable_image_and_skip(cub: Path) -> None:
    bad = cub / "images" / LAY / "Laysan_Albatross_0006.jpg"
    bad.write_bytes(b"\x00" * 10)
    result = runner.invoke(app, ["prepare", "cub", str(cub)])
    _assert_one_line_error(result, str(bad), "--skip-bad-images")
    result = runner.invoke(app, ["prepare", "cub", str(cub), "--skip-bad-images", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["skipped"] == 1


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    root = trees.make_folder(tmp_path / "pets", {"dog": 3, "cat": 3}, ext=".png")
    (root / "boxes.csv").write_text(
        "path,x0,y0,x1,y1\n"
        "cat/img0.png,1,2,30,20\n"
        "cat/img1.png,0,0,33,25\n"
        "cat/img1.png,5.5,6.9,10,12\n"
        "dog/img2.png,3,4,20,21\n"
        "dog/img0.png,2,2,9,9\n"
    )
    return root


def test_prepare_folder_end_to_end(pets: Path) -> None:
    result = runner.invoke(
        app,
        ["prepare", "folder", str(pets), "--boxes", str(pets / "boxes.csv"),
         "--val-fraction", "0.5", "--test-fraction", "0.5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = _written(pets / "wsolkit")
    # cat: img0, img1 boxed; dog: img0, img2 boxed -> one val and one test image per class.
    val = written["val/image_ids.txt"]
    test = written["test/image_ids.txt"]
    assert sorted(val + test) == ["cat/img0.png", "cat/img1.png", "dog/img0.png", "dog/img2.png"]
    assert written["train/image_ids.txt"] == ["cat/img2.png", "dog/img1.png"]
    assert written["train/class_labels.txt"] == ["cat/img2.png,0", "dog/img1.png,1"]
    assert written["train/image_sizes.txt"] == ["cat/img2.png,34,26", "dog/img1.png,33,25"]
    assert "train/localization.txt" not in written  # train images have no boxes
    boxes = {
        "cat/img0.png": ["cat/img0.png,1,2,30,20"],
        "cat/img1.png": ["cat/img1.png,0,0,33,25", "cat/img1.png,5,6,10,12"],
        "dog/img0.png": ["dog/img0.png,2,2,9,9"],
        "dog/img2.png": ["dog/img2.png,3,4,20,21"],
    }
    sizes = {"img0": "32,24", "img1": "33,25", "img2": "34,26"}
    for split, ids in (("val", val), ("test", test)):
        assert [i.split("/")[0] for i in ids] == ["cat", "dog"]
        assert written[f"{split}/class_labels.txt"] == [f"{ids[0]},0", f"{ids[1]},1"]
        assert written[f"{split}/image_sizes.txt"] == [f"{i},{sizes[Path(i).stem]}" for i in ids]
        assert written[f"{split}/localization.txt"] == [b for i in ids for b in boxes[i]]
    again = runner.invoke(
        app,
        ["prepare", "folder", str(pets), "--boxes", str(pets / "boxes.csv"), "--out",
         str(pets.parent / "again"), "--val-fraction", "0.5", "--test-fraction", "0.5"],
    )  # fmt: skip
    assert again.exit_code == 0
    assert _written(pets.parent / "again") == written  # the same seed gives the same splits


FOLDER_ERRORS = {
    "x1 <= x0": ("cat/img2.png,9,1,9,5", "box (9,1,9,5) needs x1 > x0"),
    "outside": ("cat/img2.png,1,1,35,5", "box (1,1,35,5) lies outside the 34x26 image"),
    "non-numeric": ("cat/img2.png,1,1,5,five", "y1 'five' is not a number"),
    "malformed": ("cat/img2.png;1;1;5;5", "expected 5 fields (path,x0,y0,x1,y1), got 1"),
    "unknown image": ("cow/img0.png,1,1,5,5", "image 'cow/img0.png' is not an image found"),
}


@pytest.mark.parametrize("case", list(FOLDER_ERRORS), ids=list(FOLDER_ERRORS))
def test_prepare_folder_bad_csv_is_one_line(pets: Path, case: str) -> None:
    text, value = FOLDER_ERRORS[case]
    with open(pets / "boxes.csv", "a") as fh:
        fh.write(text + "\n")
    result = runner.invoke(
        app, ["prepare", "folder", str(pets), "--boxes", str(pets / "boxes.csv")]
    )
    _assert_one_line_error(result, f"{pets / 'boxes.csv'}:7: ", value)
    assert not (pets / "wsolkit").exists()


def test_prepare_missing_root_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", "folder", str(tmp_path / "nope")])
    _assert_one_line_error(result, "dataset folder not found")
    result = runner.invoke(app, ["prepare", "cub", str(tmp_path)])
    _assert_one_line_error(result, "images.txt: not found")
    result = runner.invoke(app, ["prepare", "openimages", str(tmp_path)])
    _assert_one_line_error(result, "OpenImages train folder not found")
    result = runner.invoke(app, ["prepare", "imagenet", str(tmp_path)])
    _assert_one_line_error(result, "no train/ and val/ folders")


@pytest.mark.parametrize("command", ["cub", "imagenet", "openimages", "folder"])
def test_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, ["prepare", command, "--help"])
    assert result.exit_code == 0
    assert f"wsolkit prepare {command} ~/data/" in result.output
    assert "--out" in result.output and "--overwrite" in result.output


@pytest.mark.parametrize(
    ("command", "placeholders"),
    [
        ("folder", ["ROOT/CLASS/NAME.jpg", "ROOT/train|val|test/CLASS/NAME.jpg"]),
        ("imagenet", ["train/WNID/NAME.JPEG", "val/NAME.JPEG"]),
        ("openimages", ["ID_mCLASS_HASH.png", "ID_ignore.png", "val/CLASS/ layout"]),
        ("cub", ["NNN.Class/ID.jpg"]),
    ],
)
def test_help_keeps_its_placeholders(command: str, placeholders: list[str]) -> None:
    # rich's markdown mode drops <tags> and turns *...* into emphasis: ROOT/<class>/*.jpg -> ROOT//.jpg
    result = runner.invoke(app, ["prepare", command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for text in placeholders:
        assert text in result.output, (text, result.output)
    assert "//" not in result.output.replace("://", "")


def test_prepare_folder_out_in_a_class_folder_is_one_line(pets: Path) -> None:
    result = runner.invoke(app, ["prepare", "folder", str(pets), "--out", str(pets / "cat")])
    _assert_one_line_error(result, f"the output folder {pets / 'cat'} is a folder of your", "--out")
    assert sorted(p.name for p in (pets / "cat").iterdir()) == ["img0.png", "img1.png", "img2.png"]


def test_prepare_folder_non_utf8_name_is_one_line(pets: Path) -> None:
    trees.write_bytes_named(pets / "dog", b"d\xf6g.png", (pets / "dog" / "img0.png").read_bytes())
    result = runner.invoke(app, ["prepare", "folder", str(pets)])
    _assert_one_line_error(result, f"{pets / 'dog'}: the file name b'd\\xf6g.png' is not UTF-8")
    assert not (pets / "wsolkit").exists()


def test_prepare_folder_huge_image_is_one_line_and_skippable(pets: Path) -> None:
    trees.write_huge_png(pets / "cat" / "huge.png", 14000, 14000)
    result = runner.invoke(app, ["prepare", "folder", str(pets)])
    _assert_one_line_error(
        result, "huge.png: image too large to decode safely", "--skip-bad-images"
    )
    assert not (pets / "wsolkit").exists()
    result = runner.invoke(app, ["prepare", "folder", str(pets), "--skip-bad-images", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["skipped"] == 1


def test_prepare_folder_inf_box_is_one_line(pets: Path) -> None:
    with open(pets / "boxes.csv", "a") as fh:
        fh.write("dog/img1.png,1,1,inf,5\n")
    result = runner.invoke(
        app, ["prepare", "folder", str(pets), "--boxes", str(pets / "boxes.csv")]
    )
    _assert_one_line_error(result, f"{pets / 'boxes.csv'}:7: x1 'inf' is not a finite number")
    assert not (pets / "wsolkit").exists()
