"""Strict validation of the wsolevaluation metadata reader: every error names file, line, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsolkit.data.metadata import (
    MaskAnnotation,
    SplitMetadata,
    read_split,
    write_split,
)
from wsolkit.errors import MetadataError

A, B, C = "cls0/a.jpg", "cls1/b.jpg", "cls1/c.jpg"


def _split() -> SplitMetadata:
    return SplitMetadata(
        [A, B, C],
        {A: 0, B: 1, C: 2},
        {A: (100, 80), B: (50, 60), C: (30, 30)},
        {A: [(1, 2, 50, 60)], B: [(0, 0, 50, 60), (10, 10, 20, 20)], C: [(3, 3, 9, 9)]},
    )


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "test"
    write_split(folder, _split())
    return folder


def _edit(folder: Path, name: str, line: int, new: str | None) -> None:
    """Replace (or with ``None`` delete) 1-based ``line`` of ``folder/name``."""
    path = folder / name
    lines = path.read_text().splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n")


def _append(folder: Path, name: str, new: str) -> None:
    with open(folder / name, "a") as fh:
        fh.write(new + "\n")


def test_written_split_is_canonical_text_and_reads_back(split_dir: Path) -> None:
    assert (split_dir / "image_ids.txt").read_text() == f"{A}\n{B}\n{C}\n"
    assert (split_dir / "class_labels.txt").read_text() == f"{A},0\n{B},1\n{C},2\n"
    assert (split_dir / "image_sizes.txt").read_text() == f"{A},100,80\n{B},50,60\n{C},30,30\n"
    assert (split_dir / "localization.txt").read_text() == (
        f"{A},1,2,50,60\n{B},0,0,50,60\n{B},10,10,20,20\n{C},3,3,9,9\n"
    )
    assert read_split(split_dir, num_classes=3, require_localization=True) == _split()


# (file, line to change, new text or None to delete, extra line to append, expected line, value)
CASES = {
    "unknown id in class_labels": ("class_labels.txt", 2, "cls9/z.jpg,1", None, 2, "'cls9/z.jpg'"),
    "unknown id in image_sizes": ("image_sizes.txt", 3, "nope.jpg,30,30", None, 3, "'nope.jpg'"),
    "unknown id in localization": ("localization.txt", 4, "x/y.png,3,3,9,9", None, 4, "'x/y.png'"),
    "duplicate image id": ("image_ids.txt", 3, A, None, 3, f"duplicate image id '{A}'"),
    "second label": (
        "class_labels.txt",
        None,
        None,
        f"{A},1",
        4,
        f"second label for image id '{A}'",
    ),
    "second size": (
        "image_sizes.txt",
        None,
        None,
        f"{B},5,5",
        4,
        f"second size for image id '{B}'",
    ),
    "box outside width": ("localization.txt", 1, f"{A},1,2,101,60", None, 1, "(1,2,101,60)"),
    "box outside height": ("localization.txt", 4, f"{C},3,3,9,31", None, 4, "outside the 30x30"),
    "x1 equals x0": ("localization.txt", 2, f"{B},5,0,5,60", None, 2, "(5,0,5,60) needs x1 > x0"),
    "x1 below x0": ("localization.txt", 2, f"{B},9,0,5,60", None, 2, "(9,0,5,60)"),
    "y1 equals y0": ("localization.txt", 3, f"{B},1,7,20,7", None, 3, "(1,7,20,7)"),
    "negative coordinate": ("localization.txt", 3, f"{B},-1,7,20,9", None, 3, "negative"),
    "label too large": ("class_labels.txt", 3, f"{C},3", None, 3, "label 3 is out of range (0..2)"),
    "negative label": ("class_labels.txt", 1, f"{A},-1", None, 1, "label -1 is out of range"),
    "label not integer": (
        "class_labels.txt",
        2,
        f"{B},one",
        None,
        2,
        "label 'one' is not an integer",
    ),
    "float label": ("class_labels.txt", 2, f"{B},1.0", None, 2, "label '1.0' is not an integer"),
    "width not integer": ("image_sizes.txt", 1, f"{A},wide,80", None, 1, "width 'wide'"),
    "zero size": ("image_sizes.txt", 2, f"{B},0,60", None, 2, "0x60 must be positive"),
    "box not numeric": (
        "localization.txt",
        1,
        f"{A},1,2,x1,60",
        None,
        1,
        "x1 'x1' is not a number",
    ),
    "labels: too few fields": ("class_labels.txt", 1, A, None, 1, f"got 1: '{A}'"),
    "sizes: too many fields": ("image_sizes.txt", 2, f"{B},50,60,3", None, 2, "got 4"),
    "box: 4 fields": ("localization.txt", 1, f"{A},1,2,50", None, 1, "got 4 fields"),
    "comma in image id": ("image_ids.txt", 2, "cls1/b,c.jpg", None, 2, "'cls1/b,c.jpg'"),
    "mask line among boxes": ("localization.txt", 2, f"{B},m.png,", None, 2, "a mask line"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_error_names_file_line_and_value(split_dir: Path, case: str) -> None:
    name, line, new, extra, expected_line, value = CASES[case]
    if line is not None:
        _edit(split_dir, name, line, new)
    if extra is not None:
        _append(split_dir, name, extra)
    with pytest.raises(MetadataError) as info:
        read_split(split_dir, num_classes=3, require_localization=True)
    message = str(info.value)
    assert message.startswith(f"{split_dir / name}:{expected_line}: "), message
    assert value in message
    assert info.value.line == expected_line
    assert "\n" not in message


def test_float_box_coordinates_are_truncated(split_dir: Path) -> None:
    _edit(split_dir, "localization.txt", 1, f"{A},1.9,2.5,50.99,60.0")
    assert read_split(split_dir).boxes[A] == [(1, 2, 50, 60)]


def test_box_may_touch_the_image_border(split_dir: Path) -> None:
    _edit(split_dir, "localization.txt", 1, f"{A},0,0,100,80")
    assert read_split(split_dir).boxes[A] == [(0, 0, 100, 80)]


@pytest.mark.parametrize("name", ["class_labels.txt", "image_sizes.txt"])
def test_an_image_missing_from_a_file_is_named(split_dir: Path, name: str) -> None:
    _edit(split_dir, name, 2, None)
    with pytest.raises(
        MetadataError, match=rf"1 image id\(s\) of image_ids.txt have no line here, e.g. '{B}'"
    ):
        read_split(split_dir)


def test_evaluation_split_needs_a_box_for_every_image(split_dir: Path) -> None:
    _edit(split_dir, "localization.txt", 4, None)
    with pytest.raises(MetadataError) as info:
        read_split(split_dir, require_localization=True)
    assert str(info.value).startswith(f"{split_dir / 'image_ids.txt'}:3: image '{C}' has no box")


def test_evaluation_split_needs_localization_file(split_dir: Path) -> None:
    (split_dir / "localization.txt").unlink()
    with pytest.raises(MetadataError, match="file not found; this split needs boxes or masks"):
        read_split(split_dir, require_localization=True)
    assert read_split(split_dir).annotation == "none"


def test_missing_files_and_folders(tmp_path: Path, split_dir: Path) -> None:
    with pytest.raises(MetadataError, match="metadata split folder not found"):
        read_split(tmp_path / "nope")
    (split_dir / "class_labels.txt").unlink()
    with pytest.raises(MetadataError, match=r"class_labels.txt: file not found"):
        read_split(split_dir)


def test_binary_file_is_a_clear_error(split_dir: Path) -> None:
    (split_dir / "image_ids.txt").write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(MetadataError, match="not UTF-8 text"):
        read_split(split_dir)


def test_unknown_proxy_id(split_dir: Path) -> None:
    (split_dir / "image_ids_proxy.txt").write_text(f"{A}\nghost.jpg\n")
    with pytest.raises(MetadataError, match="proxy id 'ghost.jpg' is not in image_ids.txt"):
        read_split(split_dir)


def test_blank_lines_and_windows_line_ends_are_accepted(split_dir: Path) -> None:
    for name in ("image_ids.txt", "class_labels.txt"):
        text = (split_dir / name).read_text()
        (split_dir / name).write_text("\n" + text.replace("\n", "\r\n") + "\n\n")
    assert read_split(split_dir) == _split()


def test_mask_split_round_trip(tmp_path: Path) -> None:
    meta = SplitMetadata(
        [A, B],
        {A: 0, B: 1},
        {A: (10, 10), B: (20, 20)},
        None,
        {A: MaskAnnotation(["a_m1.png", "a_m2.png"], "a_ignore.png"), B: MaskAnnotation(["b.png"])},
    )
    write_split(tmp_path / "val", meta)
    assert (tmp_path / "val" / "localization.txt").read_text() == (
        f"{A},a_m1.png,a_ignore.png\n{A},a_m2.png,\n{B},b.png,\n"
    )
    back = read_split(tmp_path / "val", require_localization=True)
    assert back == meta and back.annotation == "masks" and back.num_boxes() == 3


def test_wsolevaluation_empty_sizes_and_localization_are_accepted(tmp_path: Path) -> None:
    """wsolevaluation ships empty image_sizes.txt (OpenImages, ILSVRC train) and empty
    localization.txt (ILSVRC train); both must read, the sizes then being empty."""
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "image_ids.txt").write_text(f"{A}\n{B}\n")
    (folder / "class_labels.txt").write_text(f"{A},0\n{B},1\n")
    (folder / "image_sizes.txt").write_text("")
    (folder / "localization.txt").write_text("")
    meta = read_split(folder)
    assert meta.sizes == {} and meta.annotation == "none"
    (folder / "localization.txt").write_text(f"{A},m.png,i.png\n{B},n.png,\n")
    assert read_split(folder, require_localization=True).annotation == "masks"
    write_split(tmp_path / "copy", meta)
    assert (tmp_path / "copy" / "image_sizes.txt").read_text() == ""


def test_boxes_without_sizes_are_an_error(tmp_path: Path, split_dir: Path) -> None:
    (split_dir / "image_sizes.txt").write_text("")
    with pytest.raises(MetadataError, match=f"no size for '{A}': boxes need image sizes"):
        read_split(split_dir)


def test_empty_localization_for_an_evaluation_split(split_dir: Path) -> None:
    (split_dir / "localization.txt").write_text("")
    with pytest.raises(MetadataError, match="file is empty; this split needs boxes or masks"):
        read_split(split_dir, require_localization=True)
