"""Hostile input to ``wsolkit prepare``: non-UTF-8 file names, ``inf``/``nan`` boxes, an
output folder inside the class folders, huge images, a failure half way through writing.

Every case is a one-line error that names the file (or folder) and the fix, raised before
the output folder is created, or removing what was created.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_trees import (
    make_cub,
    make_folder,
    make_imagenet,
    make_imagenetv2,
    make_openimages,
    write_bytes_named,
    write_huge_png,
    write_image,
    write_voc,
)
from PIL import Image

from wsolkit.data.metadata import read_split
from wsolkit.data.prepare import _output
from wsolkit.data.prepare._common import check_image_id, read_image_sizes
from wsolkit.data.prepare.cub import prepare_cub
from wsolkit.data.prepare.folder import prepare_folder
from wsolkit.data.prepare.imagenet import prepare_imagenet
from wsolkit.data.prepare.openimages import prepare_openimages
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError, MetadataError


def _jpeg() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (1, 2, 3)).save(buffer, "JPEG")
    return buffer.getvalue()


# --- non-UTF-8 names ---------------------------------------------------------------------------


def test_folder_file_name_not_utf8_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    write_bytes_named(root / "cat", b"caf\xe9.jpg", _jpeg())  # Latin-1 "café.jpg"
    with pytest.raises(DataError) as info:
        prepare_folder(root)
    assert str(info.value) == (
        f"{root / 'cat'}: the file name b'caf\\xe9.jpg' is not UTF-8, which metadata files "
        "need; rename it to UTF-8 (e.g. convmv -f latin1 -t utf8 -r --notest FOLDER)"
    )
    assert not (root / "wsolkit").exists()
    str(info.value).encode("utf-8")  # the message itself prints


def test_folder_class_folder_not_utf8(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"dog": 2})
    write_bytes_named(root / "ch\udce2t", b"img0.jpg", _jpeg())  # folder b"ch\xe2t" (Latin-1)
    with pytest.raises(DataError, match=r"the folder name b'ch\\xe2t' is not UTF-8") as info:
        prepare_folder(root, tmp_path / "out")
    assert str(info.value).startswith(f"{root}: ")
    assert not (tmp_path / "out").exists()


def test_imagenet_train_file_not_utf8(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    write_bytes_named(root / "train" / "n01440764", b"n01440764_\xff.JPEG", _jpeg())
    with pytest.raises(DataError, match=r"n01440764: the file name b'n01440764_\\xff.JPEG'"):
        prepare_imagenet(root, val_boxes=root / "val_boxes")
    assert not (root / "wsolkit").exists()


def test_openimages_mask_file_not_utf8(tmp_path: Path) -> None:
    root = make_openimages(tmp_path / "OI")
    folder = root / "val" / "01226z"
    write_bytes_named(folder, b"va00aa_m01226z_\xe9\xe9.png", b"")
    # The mask pattern wants [0-9A-Za-z] hashes, so this file is not a mask: no error ...
    prepare_openimages(root)
    shutil.rmtree(root / "wsolkit")
    write_bytes_named(root / "test" / "01226z", b"te00\xe9.jpg", _jpeg())  # ... an image is
    with pytest.raises(DataError, match=r"01226z: the file name b'te00\\xe9.jpg' is not UTF-8"):
        prepare_openimages(root)
    assert not (root / "wsolkit").exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a,b.jpg", "a comma"),
        ("a\\b.jpg", "a backslash"),
        ("a\nb.jpg", "a line break"),
        ("../ cat/a.jpg", "a space at its start or end"),  # a class folder " cat"
    ],
)
def test_names_that_break_a_metadata_line(tmp_path: Path, name: str, problem: str) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 1})
    write_image(root / "cat" / name, (8, 8))
    assert check_image_id(root, "cat/ a.jpg") == "cat/ a.jpg"  # a space inside is fine
    with pytest.raises(DataError) as info:
        prepare_folder(root)
    assert f"{problem} in an image path breaks the metadata format; rename it" in str(info.value)
    assert "\n" not in str(info.value)
    assert not (root / "wsolkit").exists()


def test_check_image_id_accepts_ordinary_names(tmp_path: Path) -> None:
    for image_id in ("cat/img0.jpg", "chat noir/café 1.jpg", "a b/c"):
        assert check_image_id(tmp_path, image_id) == image_id


# --- inf and nan box coordinates ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-Infinity", "1e400"])
def test_csv_box_not_finite(tmp_path: Path, value: str) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2})
    csv = tmp_path / "boxes.csv"
    csv.write_text(f"path,x0,y0,x1,y1\ncat/img0.jpg,1,1,5,5\ncat/img1.jpg,1,1,{value},5\n")
    with pytest.raises(MetadataError) as info:
        prepare_folder(root, boxes=csv)
    assert str(info.value) == f"{csv}:3: x1 '{value}' is not a finite number"
    assert not (root / "wsolkit").exists()


@pytest.mark.parametrize("value", ["inf", "NaN"])
def test_voc_box_not_finite(tmp_path: Path, value: str) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2})
    xml = write_voc(root / "cat" / "img0.xml", (32, 24), [("cat", (1, 2, value, 9))])
    with pytest.raises(DataError) as info:
        prepare_folder(root)
    assert str(info.value) == f"{xml}: <object> #1 ('cat') <xmax> '{value}' is not a finite number"
    assert not (root / "wsolkit").exists()


@pytest.mark.parametrize(
    ("line", "value"), [("3 inf 2.0 5.0 5.0", "x 'inf'"), ("3 1 nan 5 5", "y 'nan'")]
)
def test_cub_box_not_finite(tmp_path: Path, line: str, value: str) -> None:
    root = make_cub(tmp_path / "CUB_200_2011")
    path = root / "bounding_boxes.txt"
    lines = path.read_text().splitlines()
    lines[2] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError) as info:
        prepare_cub(root)
    assert str(info.value) == f"{path}:3: {value} is not a finite number"
    lines[2] = "3 1e308 2 1e308 5"  # finite, but x + w overflows to inf
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError, match="bounding_boxes.txt:3: box 1e308 2 1e308 5 is too"):
        prepare_cub(root)
    assert not (root / "wsolkit").exists()


def test_imagenetv2_box_line_not_finite(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    v2 = make_imagenetv2(root / "val2")
    with open(v2 / "ImageNetV2_boxes.txt", "a") as fh:
        fh.write("1/0.jpeg,1,2,inf,15\n")
    with pytest.raises(MetadataError) as info:
        prepare_imagenet(root, val_boxes=root / "val_boxes", imagenetv2=v2)
    assert str(info.value) == f"{v2 / 'ImageNetV2_boxes.txt'}:9: x1 'inf' is not a finite number"


def test_box_lines_that_leave_the_folder_and_non_utf8_box_files(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    v2 = make_imagenetv2(root / "val2")
    (root / "escape.jpeg").write_bytes(_jpeg())
    boxes = v2 / "ImageNetV2_boxes.txt"
    boxes.write_text("0/../../escape.jpeg,1,1,5,5\n")
    with pytest.raises(MetadataError, match=r"ImageNetV2_boxes.txt:1: image path '0/\.\./\.\./"):
        prepare_imagenet(root, val_boxes=root / "val_boxes", imagenetv2=v2)
    boxes.write_bytes(b"0/0.jpeg,1,1,5,5\n0/caf\xe9.jpeg,1,1,5,5\n")
    with pytest.raises(MetadataError, match=r"ImageNetV2_boxes.txt: not UTF-8 text"):
        prepare_imagenet(root, val_boxes=root / "val_boxes", imagenetv2=v2)


def test_cub_images_txt_path_that_leaves_images(tmp_path: Path) -> None:
    root = make_cub(tmp_path / "CUB_200_2011")
    path = root / "images.txt"
    lines = path.read_text().splitlines()
    lines[1] = "2 ../../etc/passwd"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError) as info:
        prepare_cub(root)
    assert str(info.value).startswith(
        f"{path}:2: image path '../../etc/passwd' has a '..' part that leaves the root"
    )


# --- the output folder among the class folders -------------------------------------------------


@pytest.mark.parametrize("out", ["cat", "cat/prepared", "cat/deeper/still"])
def test_out_inside_a_class_folder_is_refused(tmp_path: Path, out: str) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    with pytest.raises(DataError) as info:
        prepare_folder(root, root / out)
    where = "is" if out == "cat" else f"lies inside {root / 'cat'},"
    assert str(info.value) == (
        f"the output folder {root / out} {where} a folder of your images ('cat'); pass --out "
        f"with a folder outside the image folders, e.g. --out {tmp_path.resolve() / 'pets-wsolkit'}"
    )
    assert sorted(p.name for p in (root / "cat").iterdir()) == ["img0.jpg", "img1.jpg"]


def test_out_inside_a_split_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    make_folder(root / "train", {"a": 2})
    make_folder(root / "val", {"a": 1})
    with pytest.raises(DataError, match=r"lies inside .*/ds/train, a folder of your images"):
        prepare_folder(root, root / "train" / "out")


def test_a_class_named_like_the_default_output_is_not_dropped(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"wsolkit": 2, "dog": 2})
    with pytest.raises(DataError, match=r"the output folder .*/pets/wsolkit is .*\('wsolkit'\)"):
        prepare_folder(root)
    summary = prepare_folder(root, tmp_path / "elsewhere")
    assert read_manifest(summary.out_dir).class_names == ["dog", "wsolkit"]


def test_imagenet_and_openimages_out_inside_the_scanned_folders(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    with pytest.raises(
        DataError, match=r"the output folder .*/train/prepared lies inside .*/train"
    ):
        prepare_imagenet(root, root / "train" / "prepared", val_boxes=root / "val_boxes")
    assert not (root / "train" / "prepared").exists()
    oi = make_openimages(tmp_path / "OI")
    with pytest.raises(
        DataError, match=r"the output folder .*/OI/val is a folder of your images \('val'\)"
    ):
        prepare_openimages(oi, oi / "val")


def test_new_or_earlier_output_folders_inside_root_are_fine(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    prepare_folder(root, root / "prepared")  # new folder
    (root / "empty").mkdir()
    prepare_folder(root, root / "empty")  # an existing folder without images
    summary = prepare_folder(root, root / "prepared", overwrite=True)  # an earlier output
    assert read_manifest(summary.out_dir).class_names == ["cat", "dog"]


# --- images too large, unreadable, and failures half way ---------------------------------------


def test_huge_image_is_one_line_and_skippable_in_prepare(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    huge = write_huge_png(root / "dog" / "huge.png", 14000, 14000)
    with pytest.raises(DataError) as info:
        prepare_folder(root)
    assert str(info.value).startswith(f"{huge}: image too large to decode safely: 196,000,000 ")
    assert str(info.value).endswith("or pass --skip-bad-images to leave it out")
    assert not (root / "wsolkit").exists()
    summary = prepare_folder(root, skip_bad_images=True)
    assert summary.skipped == 1
    assert "dog/huge.png" not in read_split(root / "wsolkit" / "train").image_ids


def test_unreadable_images_are_counted_in_the_error(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 3})
    for k in (1, 2):
        (root / "cat" / f"img{k}.jpg").write_bytes(b"junk")
    ids = [f"cat/img{k}.jpg" for k in range(3)]
    with pytest.raises(DataError) as info:
        read_image_sizes(root, ids)
    assert str(info.value).startswith(f"{root / 'cat' / 'img1.jpg'}: cannot read the image header")
    assert str(info.value).endswith("to leave it out (and 1 more unreadable image(s))")
    sizes, bad = read_image_sizes(root, ids, skip_bad_images=True)
    assert sizes == {"cat/img0.jpg": (32, 24)} and bad == ids[1:]


def test_a_failure_while_writing_leaves_no_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    real = _output.write_split
    calls = []

    def failing(folder, meta):
        calls.append(folder)
        real(folder, meta)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_output, "write_split", failing)
    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(OSError, match="No space left"):
        prepare_folder(root, out)
    assert calls and not (tmp_path / "new").exists()  # the folders it created are gone too
    mine = tmp_path / "mine"
    mine.mkdir()
    with pytest.raises(OSError):
        prepare_folder(root, mine)
    assert mine.is_dir() and not any(mine.iterdir())  # the user's folder stays, emptied of ours
