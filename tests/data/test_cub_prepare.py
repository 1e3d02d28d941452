"""``prepare_cub``: the CUB_200_2011 layout → metadata, val carving, CUBV2, source-file errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_trees import CUB_CLASSES, make_cub, write_image

from wsolkit.data.metadata import read_split
from wsolkit.data.prepare._common import carve_per_class
from wsolkit.data.prepare.cub import CUB, prepare_cub
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError, MetadataError

CANONICAL = "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"


@pytest.fixture(scope="module")
def cub_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cub(tmp_path_factory.mktemp("cub") / "CUB_200_2011")


@pytest.fixture
def cub(tmp_path: Path, cub_template: Path) -> Path:
    root = tmp_path / "CUB_200_2011"
    shutil.copytree(cub_template, root)
    return root


def _ids(folder: Path) -> list[str]:
    return (folder / "image_ids.txt").read_text().splitlines()


def test_canonical_example_and_test_split(cub: Path) -> None:
    summary = prepare_cub(cub, val_per_class=1)
    out = cub / "wsolkit"
    assert summary.out_dir == out
    test = read_split(out / "test", num_classes=3, require_localization=True)
    assert test.image_ids[0] == CANONICAL
    assert test.sizes[CANONICAL] == (500, 335)
    assert test.boxes[CANONICAL] == [(60, 27, 385, 331)]
    first = (out / "test" / "localization.txt").read_text().splitlines()[0]
    assert first == f"{CANONICAL},60,27,385,331"
    assert (out / "test" / "class_labels.txt").read_text().splitlines()[0] == f"{CANONICAL},0"
    # The test split is every is_train=0 image in images.txt order.
    rows = [line.split() for line in (cub / "images.txt").read_text().splitlines()]
    flags = dict(line.split() for line in (cub / "train_test_split.txt").read_text().splitlines())
    assert test.image_ids == [path for i, path in rows if flags[i] == "0"]


def test_boxes_truncate_x_plus_w(cub: Path) -> None:
    prepare_cub(cub, val_per_class=0)
    train = read_split(cub / "wsolkit" / "train")
    # image 2: "2.5 2.25 21.5 12.75" -> int(2.5), int(2.25), int(24.0), int(15.0); summing
    # truncated values instead would give x1 = 23, y1 = 14.
    second = "001.Black_footed_Albatross/Black_footed_Albatross_0002.jpg"
    assert (cub / "bounding_boxes.txt").read_text().splitlines()[1] == "2 2.5 2.25 21.5 12.75"
    assert train.boxes[second] == [(2, 2, 24, 15)]


def test_carved_val_is_reproducible_disjoint_and_documented(cub: Path, tmp_path: Path) -> None:
    summary = prepare_cub(cub, val_per_class=1, seed=3)
    out = cub / "wsolkit"
    train, val, test = (set(_ids(out / s)) for s in ("train", "val", "test"))
    assert len(val) == 3 and len(train) == 3 and len(test) == 6
    assert not (train & val) and not (train & test) and not (val & test)
    assert {read_split(out / "val").labels[i] for i in val} == {0, 1, 2}
    assert any("carved" in n or "drawn with seed 3" in n for n in summary.notes)
    assert read_manifest(out).notes == summary.notes
    again = prepare_cub(cub, tmp_path / "again", val_per_class=1, seed=3)
    assert set(_ids(again.out_dir / "val")) == val
    picks = {frozenset(carve_per_class({0: list("abcdefgh")}, 2, s)) for s in range(6)}
    assert len(picks) > 1  # the seed matters


def test_no_val_split_with_zero_per_class(cub: Path) -> None:
    summary = prepare_cub(cub, val_per_class=0)
    assert set(summary.splits) == {"train", "test"}
    assert not (cub / "wsolkit" / "val").exists()
    assert any("no val split" in n for n in summary.notes)


def _cubv2(folder: Path) -> Path:
    """Two CUBV2 images in class folders and a wsolevaluation-style localization.txt."""
    a = f"{CUB_CLASSES[0]}/30107316117.jpg"
    b = f"{CUB_CLASSES[2]}/46909814754.jpg"
    write_image(folder / a, (56, 42))
    write_image(folder / b, (96, 61))
    return folder, [f"{a},17,13,45,29", f"{b},29,18,53,45", f"{b},1,1,5,5"]


def test_cubv2_inside_images_keeps_canonical_ids(cub: Path) -> None:
    folder, lines = _cubv2(cub / "images")
    boxes = cub.parent / "val_localization.txt"
    boxes.write_text("\n".join(lines) + "\n")
    summary = prepare_cub(cub, cubv2=folder, cubv2_boxes=boxes)
    out = cub / "wsolkit"
    assert (out / "val" / "localization.txt").read_text().splitlines() == lines
    assert (out / "val" / "class_labels.txt").read_text().splitlines() == [
        f"{CUB_CLASSES[0]}/30107316117.jpg,0",
        f"{CUB_CLASSES[2]}/46909814754.jpg,2",
    ]
    assert len(_ids(out / "train")) == 6  # nothing carved from train
    assert summary.splits["val"].boxes == 3
    assert read_manifest(out).image_root == "../images"


def test_cubv2_elsewhere_prefixes_ids_and_says_so(cub: Path) -> None:
    folder, lines = _cubv2(cub.parent / "CUBV2")
    (folder / "localization.txt").write_text("image_id,x0,y0,x1,y1\n" + "\n".join(lines) + "\n")
    summary = prepare_cub(cub, cubv2=folder)
    out = cub / "wsolkit"
    assert _ids(out / "val")[0] == f"CUBV2/{CUB_CLASSES[0]}/30107316117.jpg"
    assert _ids(out / "test")[0] == f"CUB_200_2011/images/{CANONICAL}"
    assert any("CUBV2 lives outside ROOT/images" in n for n in summary.notes)
    manifest = read_manifest(out)
    assert manifest.resolve(out, manifest.image_root) == cub.parent.resolve()


def test_cubv2_box_for_an_unknown_class(cub: Path) -> None:
    folder, _ = _cubv2(cub.parent / "CUBV2")
    (folder / "localization.txt").write_text("999.Dodo/1.jpg,1,1,5,5\n")
    with pytest.raises(MetadataError, match=r"localization.txt:1: '999.Dodo/1.jpg' is not below"):
        prepare_cub(cub, cubv2=folder)


def test_cubv2_without_boxes_says_how(cub: Path) -> None:
    folder, _ = _cubv2(cub.parent / "CUBV2")
    with pytest.raises(DataError, match="pass --cubv2-boxes FILE"):
        prepare_cub(cub, cubv2=folder)


def _rewrite(path: Path, line: int, text: str | None) -> None:
    lines = path.read_text().splitlines()
    if text is None:
        del lines[line - 1]
    else:
        lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


SOURCE_ERRORS = {
    "duplicate id": ("images.txt", 3, "2 002.Laysan_Albatross/x.jpg", 3, "duplicate image id '2'"),
    "unknown id": ("bounding_boxes.txt", 4, "99 1 1 5 5", 4, "image id '99' is not listed in"),
    "malformed": ("image_class_labels.txt", 2, "2", 2, "expected 2 fields (id class), got 1"),
    "non-numeric": ("bounding_boxes.txt", 5, "5 1.0 two 5 5", 5, "y 'two' is not a number"),
    "class id 0": ("image_class_labels.txt", 6, "6 0", 6, "class id 0 must be >= 1"),
    "bad flag": ("train_test_split.txt", 7, "7 2", 7, "is_train '2' must be 0 or 1"),
    "box outside": ("bounding_boxes.txt", 1, "1 60.0 27.0 441.0 304.0", 1, "outside the 500x335"),
    "empty box": ("bounding_boxes.txt", 2, "2 10.0 5.0 0.0 3.0", 2, "needs x1 > x0"),
}


@pytest.mark.parametrize("case", list(SOURCE_ERRORS), ids=list(SOURCE_ERRORS))
def test_source_file_errors_name_file_line_and_value(cub: Path, case: str) -> None:
    name, line, text, expected_line, value = SOURCE_ERRORS[case]
    _rewrite(cub / name, line, text)
    with pytest.raises((MetadataError, DataError)) as info:
        prepare_cub(cub)
    message = str(info.value)
    assert message.startswith(f"{cub / name}:{expected_line}: "), message
    assert value in message
    assert not (cub / "wsolkit").exists()  # nothing written before the input checks out


def test_image_missing_from_a_file(cub: Path) -> None:
    _rewrite(cub / "train_test_split.txt", 5, None)
    with pytest.raises(MetadataError, match="train_test_split.txt: no line for image id '5'"):
        prepare_cub(cub)


def test_not_a_cub_folder_points_to_the_right_one(tmp_path: Path, cub: Path) -> None:
    with pytest.raises(DataError, match="found one in ROOT/CUB_200_2011"):
        prepare_cub(cub.parent)


def test_unreadable_image_stops_or_is_skipped(cub: Path) -> None:
    bad = cub / "images" / "002.Laysan_Albatross" / "Laysan_Albatross_0006.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=rf"{bad}: cannot read the image header"):
        prepare_cub(cub)
    summary = prepare_cub(cub, skip_bad_images=True, val_per_class=0)
    assert summary.skipped == 1
    assert "002.Laysan_Albatross/Laysan_Albatross_0006.jpg" not in _ids(cub / "wsolkit" / "train")
    assert summary.splits["train"].images == 5


def test_existing_output_needs_overwrite(cub: Path) -> None:
    prepare_cub(cub, val_per_class=1)
    with pytest.raises(DataError, match="already holds a prepared dataset .* --overwrite"):
        prepare_cub(cub, val_per_class=0)
    prepare_cub(cub, val_per_class=0, overwrite=True)
    assert not (cub / "wsolkit" / "val").exists()  # the stale split is gone
    assert read_manifest(cub / "wsolkit").splits == {"train": 6, "test": 6}


def test_foreign_files_are_never_deleted(cub: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with pytest.raises(DataError, match="is not empty"):
        prepare_cub(cub, out, overwrite=True)
    assert (out / "notes.md").read_text() == "mine"


def test_spec_is_registered_shape() -> None:
    assert CUB.name == "cub" and CUB.num_classes == 200 and CUB.norm_region == "max"
    assert CUB.annotation == "boxes" and CUB.eval_size == 224
    assert CUB.method_defaults == {"norm_region": "max"}
