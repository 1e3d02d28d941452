"""Boxes of a custom image folder: a CSV file or Pascal-VOC XML files.

CSV: one box per line, ``path,x0,y0,x1,y1`` with the path relative to the
dataset ROOT (``cat/001.jpg``), an optional header line, any number of lines per
image. VOC: ``<stem>.xml`` beside each image, or in a separate folder (mirroring
the image folders, or flat). Every error names the file, the line (or XML
object) and the value.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from wsolkit.data.metadata import Box
from wsolkit.data.prepare._sources import check_box, coordinate
from wsolkit.data.prepare._voc import read_voc
from wsolkit.errors import DataError, MetadataError

CSV_FORM = "path,x0,y0,x1,y1"


@dataclass
class FolderBoxes:
    """Boxes per image id, where each came from (for errors) and notes for the summary."""

    boxes: dict[str, list[Box]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)  # "file:line" per box
    notes: list[str] = field(default_factory=list)

    def add(self, image_id: str, box: Box, source: str) -> None:
        """Record one box of ``image_id`` read from ``source``."""
        self.boxes.setdefault(image_id, []).append(box)
        self.sources.setdefault(image_id, []).append(source)

    def check(self, sizes: dict[str, tuple[int, int]]) -> None:
        """Every box inside its image (``sizes``), else an error naming its source."""
        for image_id, boxes in self.boxes.items():
            if image_id in sizes:
                for box, source in zip(boxes, self.sources[image_id], strict=True):
                    check_box(box, sizes[image_id], source)


def _normalize(root: Path, raw: str) -> str:
    """A CSV path as an image id: forward slashes, no ``./``, relative to ``root``."""
    text = raw.strip().replace("\\", "/")
    path = Path(text)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return text
    return PurePosixPath(text).as_posix().removeprefix("./")


def _is_header(fields: list[str]) -> bool:
    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    return len(fields) == 5 and not any(number(f) for f in fields[1:])


def read_box_csv(path: Path, root: Path, image_ids: Iterable[str]) -> FolderBoxes:
    """Boxes from a ``path,x0,y0,x1,y1`` CSV; paths must name images found under ``root``."""
    known = set(image_ids)
    found = FolderBoxes()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: box CSV not found") from None
    except UnicodeDecodeError as exc:
        raise MetadataError(path, None, f"not UTF-8 text ({exc.reason})") from None
    first = True
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip():
            continue
        fields = [f.strip() for f in fields]
        if first and _is_header(fields):
            first = False
            continue
        first = False
        if len(fields) != 5:
            raise MetadataError(
                path,
                number,
                f"expected 5 fields ({CSV_FORM}), got {len(fields)}: '{','.join(fields)}'",
            )
        image_id = _normalize(root, fields[0])
        if image_id not in known:
            raise MetadataError(
                path,
                number,
                f"image '{fields[0]}' is not an image found under {root} (paths are relative to "
                "ROOT, e.g. 'cat/001.jpg')",
            )
        x0, y0, x1, y1 = (
            coordinate(path, number, value, name)
            for value, name in zip(fields[1:], ("x0", "y0", "x1", "y1"), strict=True)
        )
        found.add(image_id, (x0, y0, x1, y1), f"{path}:{number}")
    if not found.boxes:
        raise DataError(f"{path}: holds no boxes ({CSV_FORM} lines)")
    found.notes.append(f"boxes: {sum(map(len, found.boxes.values())):,} from {path}")
    return found


def _xml_for(image_id: str, root: Path, voc_dir: Path | None, flat: dict[str, Path]) -> Path | None:
    stem = PurePosixPath(image_id).with_suffix(".xml")
    if voc_dir is None:
        beside = root / stem
        return beside if beside.is_file() else None
    mirrored = voc_dir / stem
    if mirrored.is_file():
        return mirrored
    return flat.get(PurePosixPath(image_id).stem)


def _flat_index(voc_dir: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for xml in sorted(voc_dir.glob("*.xml")):
        index[xml.stem] = xml
    return index


def read_voc_boxes(
    root: Path, image_ids: Iterable[str], class_of: dict[str, str], voc_dir: Path | None
) -> FolderBoxes:
    """Boxes from VOC XML files beside the images (``voc_dir`` None) or in ``voc_dir``.

    WSOL has one class per image: the objects named like the image's class folder
    are its boxes; an XML with no such object gives all its objects (counted in
    a note, so class-agnostic labels such as "object" work).
    """
    found = FolderBoxes()
    flat = _flat_index(voc_dir) if voc_dir is not None else {}
    stems: dict[str, str] = {}
    used = 0
    all_objects = 0
    for image_id in image_ids:
        stem = PurePosixPath(image_id).stem
        xml = _xml_for(image_id, root, voc_dir, flat)
        if xml is None:
            continue
        if voc_dir is not None and xml.parent == voc_dir:
            if stem in stems:
                raise DataError(
                    f"{xml}: matches two images ('{stems[stem]}' and '{image_id}'); mirror the "
                    "image folders inside --voc-dir"
                )
            stems[stem] = image_id
        objects = read_voc(xml)
        mine = [o for o in objects if o.name == class_of[image_id]]
        if objects and not mine:
            all_objects += 1
            mine = objects
        for number, obj in enumerate(mine, start=1):
            found.add(image_id, obj.box, f"{xml}: <object> '{obj.name}' #{number}")
        used += 1
    where = f"in {voc_dir}" if voc_dir is not None else "beside the images"
    found.notes.append(
        f"boxes: Pascal-VOC XML {where} for {used:,} images, "
        f"{sum(map(len, found.boxes.values())):,} boxes"
    )
    if all_objects:
        found.notes.append(
            f"{all_objects:,} XML files name no object like the image's class folder: all their "
            "objects were taken as its boxes"
        )
    return found
