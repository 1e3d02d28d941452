"""ImageNet-1K (ILSVRC2012) → prepared dataset (``wsolkit prepare imagenet``).

Layouts accepted for ROOT (image ids are relative to the folder holding
``train/`` and ``val/``, so they read ``train/n01440764/n01440764_10026.JPEG``
and ``val/ILSVRC2012_val_00000001.JPEG`` like wsolevaluation's metadata/ILSVRC)::

    ROOT/train/<wnid>/*.JPEG           ROOT/val/*.JPEG  (or val/<wnid>/*.JPEG)
    ROOT/Data/CLS-LOC/train/...        ROOT/Data/CLS-LOC/val/...   (Kaggle's "ILSVRC" folder)

- train: labels are the wnid's index in the sorted list of train folders; no boxes.
- test: the ILSVRC2012 val images; boxes from their Pascal-VOC XML files
  (``ILSVRC2012_val_00000001.xml``, from ``ILSVRC2012_bbox_val_v3.tgz``): every
  object of the image's class, clipped to the image. The label is the XML's
  object name (wnid), or the class folder for ``val/<wnid>/`` layouts.
- val: ImageNetV2 (``imagenetv2-threshold0.7``, folders ``0``..``999`` named by
  class index) with wsolevaluation's boxes (``release/ImageNetV2_boxes.txt``), when
  given; otherwise there is no val split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wsolkit.data.metadata import Box
from wsolkit.data.prepare._common import (
    check_image_id,
    default_out,
    is_image,
    joint_root,
    make_splits,
    manifest_path,
    read_image_sizes,
)
from wsolkit.data.prepare._output import refuse_out_inside, write_dataset
from wsolkit.data.prepare._sources import check_box, clip_box, read_box_lines
from wsolkit.data.prepare._voc import read_voc
from wsolkit.data.spec import DatasetManifest, DatasetSpec, PrepareSummary
from wsolkit.errors import DataError, MetadataError
from wsolkit.progress import Progress, no_progress

NUM_CLASSES = 1000
_DATA_FOLDERS = ("", "Data/CLS-LOC", "ILSVRC/Data/CLS-LOC")
_XML_FOLDERS = ("Annotations/CLS-LOC/val", "ILSVRC/Annotations/CLS-LOC/val", "val")
IMAGENETV2_BOX_FILES = ("ImageNetV2_boxes.txt", "localization.txt")


def find_image_root(root: Path) -> Path:
    """The folder holding ``train/`` and ``val/`` (ROOT itself or Kaggle's ``Data/CLS-LOC``)."""
    for sub in _DATA_FOLDERS:
        folder = root / sub if sub else root
        if (folder / "train").is_dir() and (folder / "val").is_dir():
            return folder
    raise DataError(
        f"{root}: no train/ and val/ folders (also looked in Data/CLS-LOC); ROOT must hold "
        "ILSVRC2012 train/<wnid>/*.JPEG and val/*.JPEG"
    )


def list_train(image_root: Path) -> tuple[list[str], list[str]]:
    """``(wnids, ids)``: sorted class folders of ``train/`` and their images, sorted."""
    wnids = sorted(
        d.name
        for d in (image_root / "train").iterdir()
        if d.is_dir() and not d.name.startswith(".")
    )
    if not wnids:
        raise DataError(f"{image_root / 'train'}: no class folders (expected train/<wnid>/*.JPEG)")
    ids = []
    for wnid in wnids:
        names = sorted(p.name for p in (image_root / "train" / wnid).iterdir() if is_image(p))
        ids += [check_image_id(image_root, f"train/{wnid}/{name}") for name in names]
    return wnids, ids


def list_val(image_root: Path) -> list[str]:
    """Val image ids (``val/x.JPEG`` or ``val/<wnid>/x.JPEG``), sorted by file name."""
    val = image_root / "val"
    ids = [
        check_image_id(image_root, p.relative_to(image_root).as_posix())
        for p in val.rglob("*")
        if is_image(p)
    ]
    if not ids:
        raise DataError(f"{val}: no images (expected val/ILSVRC2012_val_*.JPEG)")
    return sorted(ids, key=lambda i: (i.rsplit("/", 1)[-1], i))


def find_xml_index(root: Path, image_root: Path, val_boxes: Path | None) -> dict[str, Path]:
    """XML file per image stem, from ``val_boxes`` or the usual places."""
    if val_boxes is not None:
        folders = [Path(val_boxes)]
        if not folders[0].is_dir():
            raise DataError(f"{val_boxes}: --val-boxes folder not found")
    else:
        folders = [root / sub for sub in _XML_FOLDERS] + [image_root / "val"]
    for folder in folders:
        if folder.is_dir():
            index = {xml.stem: xml for xml in sorted(folder.rglob("*.xml"))}
            if index:
                return index
    where = val_boxes or ", ".join(str(f) for f in folders)
    raise DataError(
        f"no Pascal-VOC XML boxes found for the val images (looked in {where}); extract "
        "ILSVRC2012_bbox_val_v3.tgz and pass --val-boxes DIR"
    )


@dataclass
class _Test:
    labels: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, list[Box]] = field(default_factory=dict)
    xml: dict[str, Path] = field(default_factory=dict)


def read_test(
    ids: list[str], wnids: list[str], index: dict[str, Path], progress: Progress = no_progress
) -> _Test:
    """Labels and boxes of the val images (the test split) from their XML files."""
    label_of = {w: k for k, w in enumerate(wnids)}
    test = _Test()
    missing = [i for i in ids if Path(i).stem not in index]
    if missing:
        raise DataError(
            f"{len(missing)} val image(s) have no XML box file, e.g. '{missing[0]}'; pass "
            "--val-boxes DIR with ILSVRC2012_val_*.xml files"
        )
    for done, image_id in enumerate(ids, start=1):
        if done % 500 == 0 or done == len(ids):
            progress(done, len(ids), "reading val XML boxes")
        xml = index[Path(image_id).stem]
        objects = read_voc(xml)
        parts = image_id.split("/")
        folder_wnid = parts[1] if len(parts) == 3 else None
        names = sorted({o.name for o in objects})
        wnid = folder_wnid or (names[0] if len(names) == 1 else None)
        if wnid is None:
            raise DataError(
                f"{xml}: objects of {len(names)} classes ({', '.join(names) or 'none'}); the label "
                "is ambiguous: put the val images in val/<wnid>/ folders"
            )
        if wnid not in label_of:
            raise DataError(f"{xml}: class '{wnid}' is not a train/ folder of ROOT")
        mine = [o.box for o in objects if o.name == wnid]
        if not mine:
            raise DataError(f"{xml}: no <object> of class '{wnid}' (the image's class)")
        test.labels[image_id] = label_of[wnid]
        test.boxes[image_id] = mine
        test.xml[image_id] = xml
    return test


def clip_test_boxes(test: _Test, sizes: dict[str, tuple[int, int]]) -> int:
    """Clip the XML boxes to their images (raw ILSVRC boxes may touch or pass the border).

    Returns how many changed; a box empty after clipping is an error naming its XML.
    """
    clipped = 0
    for image_id, boxes in test.boxes.items():
        if image_id not in sizes:
            continue
        new = [clip_box(b, sizes[image_id]) for b in boxes]
        clipped += sum(a != b for a, b in zip(boxes, new, strict=True))
        for box in new:
            check_box(box, sizes[image_id], f"{test.xml[image_id]} (clipped to the image)")
        test.boxes[image_id] = new
    return clipped


def read_imagenetv2(
    folder: Path, boxes_file: Path, num_classes: int
) -> tuple[dict[str, int], dict[str, list[tuple[Box, int]]]]:
    """ImageNetV2 labels and boxes (with their lines), ids relative to ``folder``.

    Box ids are ``<class index>/<name>.jpeg`` (wsolevaluation's ImageNetV2_boxes.txt);
    a leading folder such as ``val2/`` (metadata/ILSVRC/val) is dropped.
    """
    labels: dict[str, int] = {}
    boxes: dict[str, list[tuple[Box, int]]] = {}
    for number, path, box in read_box_lines(boxes_file):
        parts = path.split("/")
        if len(parts) == 3 and not (folder / path).exists():
            parts = parts[1:]
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) >= num_classes:
            raise MetadataError(
                boxes_file,
                number,
                f"'{path}' is not <class index 0..{num_classes - 1}>/<image> (ImageNetV2 layout)",
            )
        image_id = "/".join(parts)
        if not (folder / image_id).is_file():
            raise MetadataError(boxes_file, number, f"image '{folder / image_id}' not found")
        labels[image_id] = int(parts[0])
        boxes.setdefault(image_id, []).append((box, number))
    if not labels:
        raise DataError(f"{boxes_file}: holds no ImageNetV2 boxes")
    return labels, boxes


def _find_v2_boxes(folder: Path, boxes: Path | None) -> Path:
    if boxes is not None:
        return Path(boxes) / "localization.txt" if Path(boxes).is_dir() else Path(boxes)
    for name in IMAGENETV2_BOX_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"{folder}: no ImageNetV2 boxes ({' or '.join(IMAGENETV2_BOX_FILES)}); pass "
        "--imagenetv2-boxes FILE (wsolevaluation's release/ImageNetV2_boxes.txt)"
    )


@dataclass
class _Val:
    """ImageNetV2 as the val split: ids below its folder, labels, boxes with their lines."""

    labels: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, list[tuple[Box, int]]] = field(default_factory=dict)
    boxes_file: Path | None = None


def _read_val(folder: Path | None, boxes: Path | None, num_classes: int, notes: list[str]) -> _Val:
    if folder is None:
        notes.append(
            "no val split: ImageNetV2 not given (--imagenetv2); checkpoints and "
            "hyperparameters cannot be chosen on localization, and only the last checkpoint "
            "can be tested"
        )
        return _Val()
    if not folder.is_dir():
        raise DataError(f"{folder}: ImageNetV2 folder not found")
    boxes_file = _find_v2_boxes(folder, boxes)
    labels, found = read_imagenetv2(folder, boxes_file, num_classes)
    notes.append(f"val: {len(labels):,} ImageNetV2 images, boxes from {boxes_file}")
    return _Val(labels, found, boxes_file)


def _prefix(mapping: dict[str, object], prefix: str) -> dict:
    return {prefix + k: v for k, v in mapping.items()}


def _place(data_root: Path, v2_folder: Path | None, notes: list[str]) -> tuple[Path, str, str]:
    """The image root for ILSVRC and ImageNetV2 together, and their id prefixes."""
    if v2_folder is None:
        return data_root, "", ""
    image_root, main, v2 = joint_root(data_root, v2_folder)
    if main:
        notes.append(
            f"image ids start with '{main}' because ImageNetV2 lives outside {data_root}; "
            "put it in ROOT/val2 to keep wsolevaluation's ids"
        )
    return image_root, main, v2


def _checked_val_boxes(
    val: _Val, prefix: str, sizes: dict[str, tuple[int, int]]
) -> dict[str, list[Box]]:
    """ImageNetV2 boxes by (prefixed) id, each checked against its image size."""
    boxes = {}
    for image_id, entries in val.boxes.items():
        for box, line in entries:
            if prefix + image_id in sizes:
                check_box(box, sizes[prefix + image_id], f"{val.boxes_file}:{line}")
        boxes[prefix + image_id] = [box for box, _ in entries]
    return boxes


def prepare_imagenet(
    root: Path,
    out: Path | None = None,
    *,
    val_boxes: Path | None = None,
    imagenetv2: Path | None = None,
    imagenetv2_boxes: Path | None = None,
    overwrite: bool = False,
    skip_bad_images: bool = False,
    workers: int = 8,
    progress: Progress = no_progress,
) -> PrepareSummary:
    """Convert ILSVRC2012 (and optionally ImageNetV2) into a prepared dataset at ``out``.

    ``out`` defaults to ``ROOT/wsolkit``. Reading the sizes of 1.28 M train
    images takes a few minutes (``workers`` threads read the headers).
    """
    root = Path(root)
    out = Path(out) if out is not None else default_out(root)
    data_root = find_image_root(root)
    refuse_out_inside(out, [data_root / "train", data_root / "val"], default_out(root))
    wnids, train = list_train(data_root)
    test_ids = list_val(data_root)
    test = read_test(test_ids, wnids, find_xml_index(root, data_root, val_boxes), progress)
    notes: list[str] = []
    v2_folder = Path(imagenetv2) if imagenetv2 is not None else None
    val = _read_val(v2_folder, imagenetv2_boxes, len(wnids), notes)
    image_root, main, v2 = _place(data_root, v2_folder, notes)
    label_of = {w: k for k, w in enumerate(wnids)}
    labels = {main + i: label_of[i.split("/")[1]] for i in train}
    labels |= _prefix(test.labels, main) | _prefix(val.labels, v2)
    test.xml = _prefix(test.xml, main)
    test.boxes = _prefix(test.boxes, main)
    ids = {
        "train": [main + i for i in train],
        "val": [v2 + i for i in val.labels],
        "test": [main + i for i in test_ids],
    }
    sizes, bad = read_image_sizes(
        image_root,
        [i for split in ids.values() for i in split],
        skip_bad_images=skip_bad_images,
        workers=workers,
        progress=progress,
    )
    clipped = clip_test_boxes(test, sizes)
    if clipped:
        notes.append(f"test: {clipped:,} XML boxes reached past the image border and were clipped")
    v2_boxes = _checked_val_boxes(val, v2, sizes)
    if len(wnids) != NUM_CLASSES:
        notes.append(f"found {len(wnids)} classes (ILSVRC2012 has {NUM_CLASSES})")
    if bad:
        notes.append(f"left out {len(bad)} unreadable image(s), e.g. {', '.join(bad[:3])}")
    splits = make_splits(
        ids, labels, sizes, {"train": None, "val": v2_boxes, "test": test.boxes}, bad
    )
    manifest = DatasetManifest(
        dataset="imagenet",
        num_classes=len(wnids),
        class_names=wnids,
        annotation="boxes",
        image_root=manifest_path(image_root, out, anchor=image_root if main else root),
        notes=notes,
    )
    summaries = write_dataset(out, splits, manifest, overwrite=overwrite)
    return PrepareSummary("imagenet", out, "boxes", summaries, notes, skipped=len(bad))


IMAGENET = DatasetSpec(
    name="imagenet",
    description="ImageNet-1K / ILSVRC2012 (1000 classes, boxes); val = ImageNetV2 with boxes.",
    annotation="boxes",
    num_classes=NUM_CLASSES,
    eval_size=224,
    norm_region="target",
)
