"""Pascal-VOC XML box files (ImageNet's val boxes, LabelImg and CVAT exports).

One ``<annotation>`` per image with one ``<object>`` per instance::

    <object><name>n01751748</name>
      <bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax><ymax>193</ymax></bndbox>
    </object>

Coordinates are read as numbers and truncated to integers (SPEC.md §1).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from wsolkit.data.metadata import Box, truncate_number
from wsolkit.errors import DataError


@dataclass(frozen=True)
class VocObject:
    """One ``<object>``: its class name and its box ``(x0, y0, x1, y1)``."""

    name: str
    box: Box


def read_voc(path: Path) -> list[VocObject]:
    """The objects of one VOC XML file, in file order; a malformed file is a one-line error."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise DataError(f"{path}: box file not found") from None
    except ET.ParseError as exc:
        raise DataError(f"{path}: not a valid XML file ({exc}); fix or remove it") from None
    if root.tag != "annotation":
        raise DataError(
            f"{path}: root element is <{root.tag}>, expected <annotation> (Pascal-VOC format)"
        )
    objects = []
    for number, obj in enumerate(root.iter("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataError(f"{path}: <object> #{number} ('{name}') has no <bndbox>")
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = (bndbox.findtext(tag) or "").strip()
            try:
                coords.append(truncate_number(text))
            except ValueError as exc:
                raise DataError(
                    f"{path}: <object> #{number} ('{name}') <{tag}> '{text}' {exc}"
                ) from None
        objects.append(VocObject(name, (coords[0], coords[1], coords[2], coords[3])))
    return objects
