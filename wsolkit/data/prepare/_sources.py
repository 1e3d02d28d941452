"""Reading the annotation files that come with the datasets, with errors naming file and line.

Whitespace tables (CUB's ``images.txt`` …), ``path,x0,y0,x1,y1`` box lists
(CUBV2, ImageNetV2) and the box checks every converter applies.
"""

from __future__ import annotations

from pathlib import Path

from wsolkit.data.metadata import escaping_path, truncate_number
from wsolkit.errors import DataError, MetadataError


def check_box(box: tuple[int, int, int, int], size: tuple[int, int], where: str) -> None:
    """Raise naming ``where`` (file, line) unless ``box`` is a valid box of a ``size`` image.

    Valid: non-negative, x1 > x0, y1 > y0, and x1 <= width, y1 <= height.
    """
    x0, y0, x1, y1 = box
    width, height = size
    text = f"({x0},{y0},{x1},{y1})"
    if min(box) < 0:
        raise DataError(f"{where}: box {text} has a negative coordinate")
    if x1 <= x0 or y1 <= y0:
        raise DataError(f"{where}: box {text} needs x1 > x0 and y1 > y0 (order x0,y0,x1,y1)")
    if x1 > width or y1 > height:
        raise DataError(f"{where}: box {text} lies outside the {width}x{height} image")


def clip_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` clipped to a ``size = (width, height)`` image."""
    x0, y0, x1, y1 = box
    width, height = size
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def read_table(path: Path, columns: int, form: str) -> list[tuple[int, list[str]]]:
    """Whitespace-separated lines of a text file as ``(line number, fields)``.

    Blank lines are skipped; a line with another number of fields is a one-line
    error naming the file, the line and the text (``form`` shows the expected one).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetadataError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise MetadataError(path, None, f"not UTF-8 text ({exc.reason})") from None
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != columns:
            raise MetadataError(
                path,
                number,
                f"expected {columns} fields ({form}), got {len(fields)}: '{raw.strip()}'",
            )
        rows.append((number, fields))
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def coordinate(path: Path, line: int | None, text: str, name: str) -> int:
    """A box coordinate: a finite number, truncated to an integer (SPEC.md §1).

    Anything else (``five``, ``inf``, ``nan``) is a one-line error naming the file and line.
    """
    try:
        return truncate_number(text)
    except ValueError as exc:
        raise MetadataError(path, line, f"{name} '{text}' {exc}") from None


def read_box_lines(path: Path) -> list[tuple[int, str, tuple[int, int, int, int]]]:
    """``(line, path, box)`` of a ``path,x0,y0,x1,y1`` file.

    A first line whose four coordinates are all non-numeric is a header and is
    skipped. Coordinates may be floats (truncated); errors name the file, line
    and value.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: box file not found") from None
    except UnicodeDecodeError as exc:
        raise MetadataError(path, None, f"not UTF-8 text ({exc.reason})") from None
    rows = []
    first = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 5:
            raise MetadataError(
                path, number, f"expected 5 comma-separated fields (path,x0,y0,x1,y1): '{line}'"
            )
        if first and not any(_is_number(p) for p in parts[1:]):
            first = False
            continue  # header
        first = False
        x0, y0, x1, y1 = (
            coordinate(path, number, value, name)
            for value, name in zip(parts[1:], ("x0", "y0", "x1", "y1"), strict=True)
        )
        image = parts[0].replace("\\", "/").removeprefix("./")
        problem = escaping_path(image)
        if problem is not None:
            raise MetadataError(
                path, number, f"image path '{parts[0]}' {problem}; paths are relative to the images"
            )
        rows.append((number, image, (x0, y0, x1, y1)))
    return rows
