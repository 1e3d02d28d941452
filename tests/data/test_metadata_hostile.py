"""Metadata that would crash or leave the image root: ``inf``/``nan`` boxes, ``..`` and absolute
paths, backslashes, escaping mask paths. Each is a one-line MetadataError naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsolkit.data.metadata import (
    MaskAnnotation,
    SplitMetadata,
    escaping_path,
    read_image_ids,
    read_split,
    truncate_number,
    write_split,
)
from wsolkit.errors import MetadataError

A, B = "cls0/a.jpg", "cls1/b.jpg"


def _write(folder: Path, ids: list[str], boxes: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "class_labels.txt").write_text("".join(f"{i},0\n" for i in ids))
    (folder / "image_sizes.txt").write_text("".join(f"{i},100,80\n" for i in ids))
    if boxes is not None:
        (folder / "localization.txt").write_text("".join(f"{b}\n" for b in boxes))
    return folder


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "1e999"])
@pytest.mark.parametrize("column", [1, 2, 3, 4])
def test_non_finite_box_coordinate_is_one_line(tmp_path: Path, value: str, column: int) -> None:
    coords = ["1", "2", "50", "60"]
    coords[column - 1] = value
    folder = _write(tmp_path / "s", [A, B], [f"{A},1,2,50,60", f"{B}," + ",".join(coords)])
    name = ("x0", "y0", "x1", "y1")[column - 1]
    with pytest.raises(MetadataError) as info:
        read_split(folder)
    assert str(info.value) == (
        f"{folder / 'localization.txt'}:2: {name} '{value}' is not a finite number"
    )


def test_words_are_still_not_numbers_and_floats_still_truncate(tmp_path: Path) -> None:
    folder = _write(tmp_path / "s", [A], [f"{A},1.9,2.5,50.99,60"])
    assert read_split(folder).boxes == {A: [(1, 2, 50, 60)]}
    _write(folder, [A], [f"{A},1,two,50,60"])
    with pytest.raises(MetadataError, match=r"localization.txt:1: y0 'two' is not a number$"):
        read_split(folder)


def test_truncate_number() -> None:
    assert truncate_number("7.9") == 7 and truncate_number("-0.5") == 0
    for text, reason in (("inf", "is not a finite number"), ("x", "is not a number")):
        with pytest.raises(ValueError, match=reason):
            truncate_number(text)


ESCAPING = {
    "parent": ("../outside.jpg", "has a '..' part that leaves the root"),
    "parent inside": ("cls0/../../outside.jpg", "has a '..' part that leaves the root"),
    "absolute": ("/etc/passwd", "is an absolute path"),
    "windows drive": ("C:/Windows/x.jpg", "is an absolute path"),
    "windows drive relative": ("c:x.jpg", "is an absolute path"),
    "backslash": ("cls0\\a.jpg", "contains a backslash (use '/' between folders)"),
    "windows parent": ("..\\outside.jpg", "contains a backslash"),
    "unc": ("\\\\server\\share\\x.jpg", "contains a backslash"),
}


@pytest.mark.parametrize("case", list(ESCAPING), ids=list(ESCAPING))
def test_image_ids_that_leave_the_root_are_refused(tmp_path: Path, case: str) -> None:
    bad, problem = ESCAPING[case]
    folder = _write(tmp_path / "s", [A, bad])
    with pytest.raises(MetadataError) as info:
        read_split(folder)
    message = str(info.value)
    assert message.startswith(f"{folder / 'image_ids.txt'}:2: image id '{bad}' {problem}")
    assert "relative to data.image_root" in message and "\n" not in message


def test_proxy_ids_are_checked_too(tmp_path: Path) -> None:
    folder = _write(tmp_path / "s", [A, B])
    (folder / "image_ids_proxy.txt").write_text(f"{A}\n../{B}\n")
    with pytest.raises(MetadataError, match=r"image_ids_proxy.txt:2: image id '\.\./cls1/b.jpg'"):
        read_split(folder)
    with pytest.raises(MetadataError, match="is an absolute path"):
        (folder / "image_ids_proxy.txt").write_text("/x.jpg\n")
        read_image_ids(folder / "image_ids_proxy.txt")


def test_harmless_dots_are_kept(tmp_path: Path) -> None:
    ids = ["cls0/..hidden/a.jpg", "cls0/a..b.jpg", "./cls1/b.jpg", "cls1/.../c.jpg"]
    assert read_split(_write(tmp_path / "s", ids)).image_ids == ids
    assert escaping_path("n01440764/n01440764_10026.JPEG") is None


@pytest.mark.parametrize(
    ("mask", "ignore", "bad"),
    [
        ("../masks/a.png", "", "../masks/a.png"),
        ("cls0/a_m.png", "/abs/ignore.png", "/abs/ignore.png"),
        ("cls0\\a_m.png", "", "cls0\\a_m.png"),
    ],
)
def test_mask_paths_that_leave_the_mask_root_are_refused(
    tmp_path: Path, mask: str, ignore: str, bad: str
) -> None:
    folder = _write(tmp_path / "s", [A, B], [f"{A},cls0/a_m.png,", f"{B},{mask},{ignore}"])
    with pytest.raises(MetadataError) as info:
        read_split(folder)
    assert str(info.value).startswith(f"{folder / 'localization.txt'}:2: mask path '{bad}' ")
    assert "relative to data.mask_root" in str(info.value)


def test_parity_split_still_reads(tmp_path: Path) -> None:
    meta = SplitMetadata(
        [A, B], {A: 0, B: 1}, {A: (10, 10), B: (10, 10)}, None,
        {A: MaskAnnotation(["cls0/a_m0.png", "cls0/a_m1.png"], "cls0/a_ignore.png"),
         B: MaskAnnotation(["cls1/b_m0.png"])},
    )  # fmt: skip
    write_split(tmp_path / "s", meta)
    assert read_split(tmp_path / "s") == meta
