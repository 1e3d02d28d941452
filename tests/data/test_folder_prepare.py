"""``prepare_folder``: class folders, CSV and VOC boxes, given or carved splits, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_trees import make_folder, write_image, write_voc

from wsolkit.data.metadata import read_split
from wsolkit.data.prepare._common import carve_fractions
from wsolkit.data.prepare.folder import FOLDER, prepare_folder
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError, MetadataError


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "shapes", {"dog": 4, "cat": 5})


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_classes_are_sorted_folder_names(shapes: Path) -> None:
    (shapes / "boxes.csv").write_text("cat/img0.jpg,1,1,10,10\ndog/img0.jpg,0,0,32,24\n")
    prepare_folder(shapes, boxes=shapes / "boxes.csv", val_fraction=0, test_fraction=1)
    manifest = read_manifest(shapes / "wsolkit")
    assert manifest.class_names == ["cat", "dog"] and manifest.num_classes == 2
    assert manifest.image_root == ".."
    assert _lines(shapes / "wsolkit" / "test" / "class_labels.txt") == [
        "cat/img0.jpg,0",
        "dog/img0.jpg,1",
    ]
    assert _lines(shapes / "wsolkit" / "test" / "image_sizes.txt") == [
        "cat/img0.jpg,32,24",
        "dog/img0.jpg,32,24",
    ]
    train = read_split(shapes / "wsolkit" / "train")
    assert train.annotation == "none" and len(train) == 7  # boxes only on 2 images


def test_csv_header_multiple_boxes_floats_and_paths(shapes: Path) -> None:
    (shapes / "boxes.csv").write_text(
        "path,x0,y0,x1,y1\n"
        "cat/img1.jpg,1,1,10,10\n"
        "\n"
        "./cat/img1.jpg,2.9,2,12.7,11\n"
        "dog\\img3.jpg,3,3,9,9\n"
    )
    summary = prepare_folder(shapes, boxes=shapes / "boxes.csv", val_fraction=0, test_fraction=1)
    assert _lines(shapes / "wsolkit" / "test" / "localization.txt") == [
        "cat/img1.jpg,1,1,10,10",
        "cat/img1.jpg,2,2,12,11",
        "dog/img3.jpg,3,3,9,9",
    ]
    assert summary.splits["test"].boxes == 3 and summary.splits["test"].images == 2


def test_carving_is_per_class_seeded_and_boxless_images_stay_in_train(shapes: Path) -> None:
    rows = [f"{c}/img{k}.jpg,1,1,8,8" for c, n in (("cat", 5), ("dog", 4)) for k in range(n)]
    (shapes / "boxes.csv").write_text("\n".join(rows) + "\n")
    summary = prepare_folder(
        shapes, boxes=shapes / "boxes.csv", val_fraction=0.25, test_fraction=0.5
    )
    out = shapes / "wsolkit"
    split = {s: set(_lines(out / s / "image_ids.txt")) for s in ("train", "val", "test")}
    # cat: 5 -> val int(1.25+.5)=1, test int(2.5+.5)=3; dog: 4 -> val 1, test 2
    assert [len(split[s]) for s in ("train", "val", "test")] == [2, 2, 5]
    assert sum(map(len, split.values())) == 9 and not (split["val"] & split["test"])
    assert read_split(out / "train").annotation == "boxes"  # every train image has a box here
    assert any("seed 0" in n for n in summary.notes)
    again = prepare_folder(
        shapes, shapes / "again", boxes=shapes / "boxes.csv", val_fraction=0.25, test_fraction=0.5
    )
    assert set(_lines(again.out_dir / "val" / "image_ids.txt")) == split["val"]
    other = prepare_folder(
        shapes,
        shapes / "other",
        boxes=shapes / "boxes.csv",
        val_fraction=0.25,
        test_fraction=0.5,
        seed=7,
    )
    assert other.splits["val"].images == 2


def test_carve_fractions_bounds() -> None:
    val, test = carve_fractions({0: list("abcd"), 1: list("xyz")}, 0.5, 0.5, seed=1)
    assert len(val) + len(test) == 7 and not (val & test)
    with pytest.raises(DataError, match="sum to at most 1"):
        carve_fractions({0: ["a"]}, 0.6, 0.5, seed=0)


def test_no_boxes_gives_a_train_split_and_explains(shapes: Path) -> None:
    summary = prepare_folder(shapes)
    assert set(summary.splits) == {"train"}
    assert any("no boxes" in n and "--boxes" in n for n in summary.notes)


def test_voc_beside_images_prefers_objects_of_the_class(shapes: Path) -> None:
    write_voc(shapes / "cat" / "img0.xml", (32, 24), [("cat", (1, 2, 9, 9)), ("dog", (0, 0, 5, 5))])
    write_voc(shapes / "dog" / "img1.xml", (33, 25), [("object", (3, 3, 30, 20))])
    summary = prepare_folder(shapes, val_fraction=0, test_fraction=1)
    assert _lines(shapes / "wsolkit" / "test" / "localization.txt") == [
        "cat/img0.jpg,1,2,9,9",
        "dog/img1.jpg,3,3,30,20",
    ]
    assert any("name no object like the image's class" in n for n in summary.notes)


def test_voc_dir_mirrored_or_flat(shapes: Path, tmp_path: Path) -> None:
    voc = tmp_path / "voc"
    write_voc(voc / "cat" / "img2.xml", (34, 26), [("cat", (1, 1, 34, 26))])
    write_voc(voc / "img4.xml", (36, 28), [("cat", (0, 1, 2, 3))])  # flat: only cat/img4
    prepare_folder(shapes, voc_dir=voc, val_fraction=0, test_fraction=1)
    assert _lines(shapes / "wsolkit" / "test" / "localization.txt") == [
        "cat/img2.jpg,1,1,34,26",
        "cat/img4.jpg,0,1,2,3",
    ]
    write_voc(voc / "img3.xml", (35, 27), [("dog", (0, 1, 2, 3))])  # cat/img3 and dog/img3
    with pytest.raises(DataError, match="img3.xml: matches two images"):
        prepare_folder(shapes, voc_dir=voc, overwrite=True)


def test_given_splits_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    make_folder(root / "train", {"a": 2, "b": 1})
    make_folder(root / "val", {"a": 1, "b": 1})
    make_folder(root / "test", {"b": 1, "c": 1})
    (root / "boxes.csv").write_text(
        "val/a/img0.jpg,1,1,5,5\nval/b/img0.jpg,1,1,5,5\n"
        "test/b/img0.jpg,0,0,32,24\ntest/c/img0.jpg,2,2,4,4\n"
    )
    summary = prepare_folder(root, boxes=root / "boxes.csv")
    assert read_manifest(root / "wsolkit").class_names == ["a", "b", "c"]
    assert {k: v.images for k, v in summary.splits.items()} == {"train": 3, "val": 2, "test": 2}
    assert _lines(root / "wsolkit" / "test" / "class_labels.txt") == [
        "test/b/img0.jpg,1",
        "test/c/img0.jpg,2",
    ]
    (root / "boxes.csv").write_text("val/a/img0.jpg,1,1,5,5\n")
    with pytest.raises(DataError, match="1 val image\\(s\\) have no box, e.g. 'val/b/img0.jpg'"):
        prepare_folder(root, boxes=root / "boxes.csv", overwrite=True)


def test_output_folder_and_loose_files_are_not_classes(shapes: Path) -> None:
    prepare_folder(shapes)
    write_image(shapes / "loose.jpg", (8, 8))
    summary = prepare_folder(shapes, overwrite=True)
    assert read_manifest(shapes / "wsolkit").class_names == ["cat", "dog"]
    assert any("directly in ROOT were ignored" in n for n in summary.notes)


CSV_ERRORS = {
    "x1 <= x0": ("cat/img0.jpg,10,1,10,9", "box (10,1,10,9) needs x1 > x0"),
    "outside": ("cat/img0.jpg,1,1,33,9", "box (1,1,33,9) lies outside the 32x24 image"),
    "negative": ("cat/img0.jpg,-2,1,5,9", "box (-2,1,5,9) has a negative coordinate"),
    "non-numeric": ("cat/img0.jpg,1,one,5,9", "y0 'one' is not a number"),
    "malformed": ("cat/img0.jpg,1,1,5", "expected 5 fields (path,x0,y0,x1,y1), got 4"),
    "unknown image": ("cat/ghost.jpg,1,1,5,5", "image 'cat/ghost.jpg' is not an image found"),
}


@pytest.mark.parametrize("case", list(CSV_ERRORS), ids=list(CSV_ERRORS))
def test_bad_csv_lines_name_file_line_and_value(shapes: Path, case: str) -> None:
    line, expected = CSV_ERRORS[case]
    csv = shapes.parent / "boxes.csv"
    csv.write_text(f"path,x0,y0,x1,y1\ncat/img1.jpg,1,1,5,5\n{line}\n")
    with pytest.raises((MetadataError, DataError)) as info:
        prepare_folder(shapes, boxes=csv)
    assert str(info.value).startswith(f"{csv}:3: "), str(info.value)
    assert expected in str(info.value)
    assert not (shapes / "wsolkit").exists()


def test_bad_voc_files_are_named(shapes: Path) -> None:
    (shapes / "cat" / "img0.xml").write_text("<annotation><object>")
    with pytest.raises(DataError, match=rf"{shapes / 'cat' / 'img0.xml'}: not a valid XML file"):
        prepare_folder(shapes)
    write_voc(shapes / "cat" / "img0.xml", (32, 24), [("cat", (1, 2, 40, 9))])
    with pytest.raises(
        DataError, match=r"img0.xml: <object> 'cat' #1: box \(1,2,40,9\) lies outside"
    ):
        prepare_folder(shapes)
    (shapes / "cat" / "img0.xml").write_text(
        "<annotation><object><name>cat</name><bndbox><xmin>a</xmin></bndbox></object></annotation>"
    )
    with pytest.raises(DataError, match="<xmin> 'a' is not a number"):
        prepare_folder(shapes)


def test_csv_and_voc_together_is_an_error(shapes: Path) -> None:
    (shapes / "b.csv").write_text("cat/img0.jpg,1,1,5,5\n")
    with pytest.raises(DataError, match="either a box CSV"):
        prepare_folder(shapes, boxes=shapes / "b.csv", voc_dir=shapes)


def test_empty_folder_is_explained(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="no images in class folders"):
        prepare_folder(tmp_path / "empty")


def test_spec() -> None:
    assert FOLDER.name == "folder" and FOLDER.num_classes is None
