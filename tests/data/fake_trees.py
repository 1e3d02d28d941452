"""Tiny dataset trees in the real downloaded layouts, for converter and CLI tests.

Loaded by path (``load_fake_trees()``) from tests outside this folder, since
``tests/`` is not a package.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

CUB_CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]


def write_image(path: Path, size: tuple[int, int], color: tuple[int, int, int] = (90, 140, 60)):
    """A small solid-colour image (JPEG or PNG by suffix) of ``size = (width, height)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def make_cub(root: Path, per_class: int = 4) -> Path:
    """A CUB_200_2011 folder with 3 classes and ``per_class`` images each.

    Image 1 is the canonical example of SPEC.md §1 (500×335, box 60 27 325 304,
    a test image). In every class the first two images are train, the rest test
    (image 1 excepted, which is test like in the real dataset).
    """
    root.mkdir(parents=True, exist_ok=True)
    images, labels, split, boxes, classes = [], [], [], [], []
    image_id = 0
    for c, name in enumerate(CUB_CLASSES, start=1):
        classes.append(f"{c} {name}")
        for k in range(per_class):
            image_id += 1
            if image_id == 1:
                rel = f"{name}/Black_Footed_Albatross_0046_18.jpg"
                size, box, is_train = (500, 335), "60.0 27.0 325.0 304.0", 0
            else:
                rel = f"{name}/{name.split('.')[1]}_{image_id:04d}.jpg"
                size = (40 + 4 * image_id, 30 + 2 * image_id)
                box = f"{1.5 + k} 2.25 {20.5 + k} {10.75 + image_id}"
                is_train = 1 if k in (1, 2) else 0
            write_image(root / "images" / rel, size, (10 * image_id, 100, 50))
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {c}")
            split.append(f"{image_id} {is_train}")
            boxes.append(f"{image_id} {box}")
    for name, lines in (
        ("images.txt", images),
        ("image_class_labels.txt", labels),
        ("train_test_split.txt", split),
        ("bounding_boxes.txt", boxes),
        ("classes.txt", classes),
    ):
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def cub_test_images(root: Path) -> list[str]:
    """The test images (``is_train`` 0) of a CUB_200_2011 folder, as paths of images.txt."""
    paths = dict(line.split() for line in (root / "images.txt").read_text().splitlines())
    flags = dict(line.split() for line in (root / "train_test_split.txt").read_text().splitlines())
    return [path for image_id, path in paths.items() if flags[image_id] == "0"]


def write_cub_masks(root: Path, folder: Path, *, cubmask: bool = False) -> Path:
    """One PNG mask per test image of the CUB folder ``root``; returns ``folder`` (``--masks``).

    The layout of the official ``segmentations/`` (``folder/<class>/<image>.png``), or
    with ``cubmask`` DA-WSOL's ``CUBMask`` (``folder/imgs/`` copies of the test images,
    ``folder/masks/<class>/<image>.png``). A mask is the image's size: 255 inside the
    box of ``bounding_boxes.txt``, a one-pixel rim of 128 around it (the soft edge of
    the official masks), 0 elsewhere.
    """
    boxes = {}
    ids = dict(line.split() for line in (root / "images.txt").read_text().splitlines())
    for line in (root / "bounding_boxes.txt").read_text().splitlines():
        image_id, *xywh = line.split()
        x, y, w, h = (float(v) for v in xywh)
        boxes[ids[image_id]] = (int(x), int(y), int(x + w), int(y + h))
    masks = folder / "masks" if cubmask else folder
    for path in cub_test_images(root):
        with Image.open(root / "images" / path) as image:
            size = image.size
        if cubmask:
            write_image(folder / "imgs" / path, size)
        x0, y0, x1, y1 = boxes[path]
        mask = Image.new("L", size, 0)
        mask.paste(128, (max(x0 - 1, 0), max(y0 - 1, 0), x1 + 1, y1 + 1))
        mask.paste(255, (x0, y0, x1, y1))
        target = (masks / path).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        mask.save(target)
    return folder


def make_folder(root: Path, classes: dict[str, int], ext: str = ".jpg") -> Path:
    """``root/<class>/img<k><ext>`` for each class with the given image count (size 32+k × 24+k)."""
    for name, count in classes.items():
        for k in range(count):
            write_image(root / name / f"img{k}{ext}", (32 + k, 24 + k))
    return root


VOC = """<annotation>
  <folder>val</folder>
  <filename>{stem}</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  {objects}
</annotation>
"""
VOC_OBJECT = (
    "<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
    "<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
    "<ymax>{y1}</ymax></bndbox></object>"
)


def write_voc(path: Path, size: tuple[int, int], objects: list[tuple[str, tuple]]) -> Path:
    """A Pascal-VOC XML file with ``objects = [(name, (x0, y0, x1, y1)), ...]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n  ".join(
        VOC_OBJECT.format(name=n, x0=b[0], y0=b[1], x1=b[2], y1=b[3]) for n, b in objects
    )
    path.write_text(VOC.format(stem=path.stem, w=size[0], h=size[1], objects=body))
    return path


IMAGENET_WNIDS = ["n01440764", "n01443537", "n01484850"]


def make_imagenet(root: Path, val_layout: str = "flat") -> Path:
    """An ILSVRC2012 tree: train/<wnid>/*.JPEG (2 each), val with 4 images and XML boxes.

    ``val_layout``: ``flat`` (val/ILSVRC2012_val_*.JPEG, XML in ROOT/val_boxes/val/),
    ``kaggle`` (Data/CLS-LOC/... and Annotations/CLS-LOC/val) or ``classes``
    (val/<wnid>/..., XML beside the images).
    """
    base = root / "Data" / "CLS-LOC" if val_layout == "kaggle" else root
    for wnid in IMAGENET_WNIDS:
        for k in range(2):
            write_image(base / "train" / wnid / f"{wnid}_{k + 10}.JPEG", (50 + k, 40))
    val = [  # (name, wnid, size, boxes)
        ("ILSVRC2012_val_00000001", "n01484850", (60, 45), [(11, 10, 44, 19)]),
        ("ILSVRC2012_val_00000002", "n01440764", (50, 40), [(4, 4, 49, 16), (2, 6, 43, 20)]),
        ("ILSVRC2012_val_00000003", "n01443537", (40, 50), [(3, 1, 38, 37)]),
        ("ILSVRC2012_val_00000004", "n01440764", (30, 30), [(0, 0, 31, 30)]),  # x1 > w: clipped
    ]
    for name, wnid, size, boxes in val:
        if val_layout == "classes":
            image = write_image(base / "val" / wnid / f"{name}.JPEG", size)
            xml = image.with_suffix(".xml")
        else:
            write_image(base / "val" / f"{name}.JPEG", size)
            ann = (
                root / "Annotations" / "CLS-LOC" / "val"
                if val_layout == "kaggle"
                else root / "val_boxes" / "val"
            )
            xml = ann / f"{name}.xml"
        write_voc(xml, size, [(wnid, b) for b in boxes])
    return root


def make_imagenetv2(folder: Path) -> Path:
    """ImageNetV2 images (folders named by class index) and an ImageNetV2_boxes.txt."""
    lines = ["image_id,x0,y0,x1,y1"]
    for label in range(3):
        for k in range(2):
            write_image(folder / str(label) / f"{k}.jpeg", (30, 20))
            lines.append(f"{label}/{k}.jpeg,1,2,{20 + k},15")
    lines.append("2/1.jpeg,0,0,5,5")  # a second box for one image
    (folder / "ImageNetV2_boxes.txt").write_text("\n".join(lines) + "\n")
    return folder


OPENIMAGES_CLASSES = ["01226z", "0bt_c3"]


def make_openimages(root: Path) -> Path:
    """OpenImages30k layout: train/val/test/<class>/<id>.jpg; val/test masks beside images."""
    for split in ("train", "val", "test"):
        for c, cls in enumerate(OPENIMAGES_CLASSES):
            for k in range(2):
                image_id = f"{split[:2]}{c}{k}aa"
                folder = root / split / cls
                write_image(folder / f"{image_id}.jpg", (40, 30))
                if split == "train":
                    continue
                for h in range(k + 1):  # image k has k+1 instance masks
                    mask = Image.new("L", (40, 30), 0)
                    mask.paste(255, (2 + h, 3, 20 + h, 25))
                    mask.save(folder / f"{image_id}_m{cls}_{h:08x}.png")
                Image.new("L", (40, 30), 0).save(folder / f"{image_id}_ignore.png")
    return root


def write_huge_png(path: Path, width: int, height: int) -> Path:
    """A valid black 1-bit PNG of any size, compressed row by row: 14000×14000 (196 Mpx,
    over twice PIL's default ``MAX_IMAGE_PIXELS``) is a 24 kB file written in ~0.1 s."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def write_bytes_named(folder: Path, name: bytes, data: bytes) -> Path:
    """A file whose name is raw bytes (e.g. Latin-1 ``caf\\xe9.jpg``, not UTF-8); the test is
    skipped where the file system refuses such names."""
    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    target = os.fsencode(folder) + b"/" + name
    try:
        with open(target, "wb") as fh:
            fh.write(data)
    except OSError as exc:  # e.g. macOS APFS, Windows: names must be Unicode
        pytest.skip(f"this file system refuses a non-UTF-8 file name ({exc})")
    return Path(os.fsdecode(target))


def load_fake_trees():
    """This module, imported by path (for tests outside ``tests/data``)."""
    spec = importlib.util.spec_from_file_location("wsolkit_fake_trees", __file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
