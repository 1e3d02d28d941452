"""CUB-200-2011 → prepared dataset (``wsolkit prepare cub``).

ROOT is the ``CUB_200_2011`` folder as distributed: ``images/``, ``images.txt``
(``id path``), ``image_class_labels.txt`` (``id class``), ``train_test_split.txt``
(``id is_train``), ``bounding_boxes.txt`` (``id x y w h``, floats) and
``classes.txt`` (``class name``, optional). Boxes become ``x0 = int(x)``,
``y0 = int(y)``, ``x1 = int(x + w)``, ``y1 = int(y + h)``; labels are the class
id − 1; train and test keep the order of ``images.txt``, so both are line for
line wsolevaluation's ``metadata/CUB`` files.

The val split ("train-fullsup") is CUBV2 when given (see :func:`read_cubv2`);
otherwise ``val_per_class`` images per class are carved from train with a
seeded draw and removed from train, so no image is in two splits.

With ``masks`` (the official ``segmentations/`` or DA-WSOL's ``CUBMask/``), the
test split also lists one mask per image, for PxAP and pIoU (see
:mod:`wsolkit.data.prepare.cub_masks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from wsolkit.data.metadata import Box, MaskAnnotation, escaping_path
from wsolkit.data.prepare._common import (
    carve_per_class,
    common_root,
    default_out,
    make_splits,
    manifest_path,
    read_image_sizes,
    require_dir,
)
from wsolkit.data.prepare._output import write_dataset
from wsolkit.data.prepare._sources import check_box, read_box_lines, read_table
from wsolkit.data.prepare.cub_masks import (
    check_mask_sizes,
    cub_mask_root,
    find_cub_masks,
    mask_note,
)
from wsolkit.data.spec import DatasetManifest, DatasetSpec, PrepareSummary
from wsolkit.errors import DataError, MetadataError
from wsolkit.progress import Progress, no_progress

NUM_CLASSES = 200
DEFAULT_VAL_PER_CLASS = 5
CUBV2_BOX_FILES = ("localization.txt", "val/localization.txt")


@dataclass
class CubImage:
    """One image of ``images.txt`` with its label, split flag and box."""

    path: str
    label: int
    is_train: bool
    box: Box
    box_line: int  # line of bounding_boxes.txt, named by errors


def _by_id(path: Path, columns: int, form: str) -> dict[str, tuple[int, list[str]]]:
    """``id -> (line, other fields)``; a repeated id is an error naming both lines."""
    rows: dict[str, tuple[int, list[str]]] = {}
    for number, fields in read_table(path, columns, form):
        image_id = fields[0]
        if image_id in rows:
            raise MetadataError(
                path, number, f"duplicate image id '{image_id}' (first on line {rows[image_id][0]})"
            )
        rows[image_id] = (number, fields[1:])
    return rows


def _lookup(
    rows: dict[str, tuple[int, list[str]]], image_id: str, path: Path, images_txt: Path
) -> tuple[int, list[str]]:
    if image_id not in rows:
        raise MetadataError(path, None, f"no line for image id '{image_id}' of {images_txt}")
    return rows[image_id]


def _number(path: Path, line: int, text: str, what: str) -> float:
    """A finite float of a CUB table; ``inf``, ``nan`` and words are errors naming file and line."""
    try:
        value = float(text)
    except ValueError:
        raise MetadataError(path, line, f"{what} '{text}' is not a number") from None
    if not math.isfinite(value):
        raise MetadataError(path, line, f"{what} '{text}' is not a finite number")
    return value


def read_cub(root: Path) -> tuple[list[CubImage], list[str]]:
    """Every image of a CUB_200_2011 folder (``images.txt`` order) and the class names."""
    files = {
        name: root / name
        for name in ("images.txt", "image_class_labels.txt", "train_test_split.txt")
    }
    files["boxes"] = root / "bounding_boxes.txt"
    if not files["images.txt"].exists():
        hint = (
            " (found one in ROOT/CUB_200_2011: pass that)"
            if (root / "CUB_200_2011" / "images.txt").exists()
            else ""
        )
        raise DataError(
            f"{files['images.txt']}: not found; ROOT must be the CUB_200_2011 folder as "
            f"distributed{hint}"
        )
    images = _by_id(files["images.txt"], 2, "id path")
    labels = _by_id(files["image_class_labels.txt"], 2, "id class")
    splits = _by_id(files["train_test_split.txt"], 2, "id is_train")
    boxes = _by_id(files["boxes"], 5, "id x y w h")
    for rows, path in (
        (labels, files["image_class_labels.txt"]),
        (splits, files["train_test_split.txt"]),
        (boxes, files["boxes"]),
    ):
        for image_id, (number, _) in rows.items():
            if image_id not in images:
                raise MetadataError(
                    path, number, f"image id '{image_id}' is not listed in {files['images.txt']}"
                )
    for number, (rel,) in images.values():
        problem = escaping_path(rel)
        if problem is not None:
            raise MetadataError(
                files["images.txt"],
                number,
                f"image path '{rel}' {problem}; paths are below images/",
            )
    tables = {"labels": labels, "splits": splits, "boxes": boxes}
    out = [_image(image_id, rel, tables, files) for image_id, (_, (rel,)) in images.items()]
    return out, _class_names(root, out)


def _image(
    image_id: str,
    rel: str,
    tables: dict[str, dict[str, tuple[int, list[str]]]],
    files: dict[str, Path],
) -> CubImage:
    """One image from the rows of the per-id files; errors name the file and line."""
    labels_txt, split_txt = files["image_class_labels.txt"], files["train_test_split.txt"]
    number, (raw_class,) = _lookup(tables["labels"], image_id, labels_txt, files["images.txt"])
    try:
        label = int(raw_class) - 1
    except ValueError:
        raise MetadataError(
            labels_txt, number, f"class id '{raw_class}' is not an integer"
        ) from None
    if label < 0:
        raise MetadataError(labels_txt, number, f"class id {label + 1} must be >= 1")
    number, (flag,) = _lookup(tables["splits"], image_id, split_txt, files["images.txt"])
    if flag not in ("0", "1"):
        raise MetadataError(split_txt, number, f"is_train '{flag}' must be 0 or 1")
    number, xywh = _lookup(tables["boxes"], image_id, files["boxes"], files["images.txt"])
    x, y, w, h = (_number(files["boxes"], number, v, n) for v, n in zip(xywh, "xywh", strict=True))
    if not (math.isfinite(x + w) and math.isfinite(y + h)):
        raise MetadataError(files["boxes"], number, f"box {' '.join(xywh)} is too large")
    return CubImage(rel, label, flag == "1", (int(x), int(y), int(x + w), int(y + h)), number)


def _class_names(root: Path, images: list[CubImage]) -> list[str]:
    """Names from ``classes.txt`` when present, else from the image folders."""
    count = max((im.label for im in images), default=-1) + 1
    seen = {im.label for im in images}
    if len(seen) != count:
        missing = sorted(set(range(count)) - seen)[:3]
        raise DataError(
            f"{root / 'image_class_labels.txt'}: class ids must run 1..{count} without gaps; "
            f"no image of class id(s) {', '.join(str(m + 1) for m in missing)}"
        )
    names = {im.label: im.path.split("/")[0] for im in images}
    path = root / "classes.txt"
    if path.exists():
        for number, (raw, name) in read_table(path, 2, "class name"):
            if raw.isdigit() and 0 < int(raw) <= count:
                names[int(raw) - 1] = name
            else:
                raise MetadataError(path, number, f"class id '{raw}' is not in 1..{count}")
    return [names[i] for i in range(count)]


@dataclass
class Cubv2Image:
    """One CUBV2 image: its path below the CUBV2 folder, label and boxes (with their lines)."""

    path: str
    label: int
    boxes: list[tuple[Box, int]]


def find_cubv2_boxes(cubv2: Path, boxes: Path | None) -> Path:
    """The CUBV2 box file: ``boxes`` (a file, or a folder holding ``localization.txt``),
    else ``localization.txt`` or ``val/localization.txt`` inside the CUBV2 folder."""
    if boxes is not None:
        if boxes.is_dir():
            boxes = boxes / "localization.txt"
        if not boxes.is_file():
            raise DataError(f"{boxes}: CUBV2 box file not found")
        return boxes
    for name in CUBV2_BOX_FILES:
        if (cubv2 / name).is_file():
            return cubv2 / name
    raise DataError(
        f"{cubv2}: no CUBV2 boxes found ({' or '.join(CUBV2_BOX_FILES)}); pass --cubv2-boxes FILE, "
        "e.g. wsolevaluation's metadata/CUB/val/localization.txt"
    )


def read_cubv2(cubv2: Path, boxes_file: Path, folder_labels: dict[str, int]) -> list[Cubv2Image]:
    """CUBV2 images from a box file of ``path,x0,y0,x1,y1`` lines (paths below ``cubv2``).

    The label is the CUB class of the path's first folder (``001.Black_footed_Albatross``);
    an image may have several lines. A header line (``image_id,x0,...``) is skipped.
    """
    found: dict[str, Cubv2Image] = {}
    for number, path, box in read_box_lines(boxes_file):
        folder = path.split("/")[0]
        if "/" not in path or folder not in folder_labels:
            raise MetadataError(
                boxes_file,
                number,
                f"'{path}' is not below a CUB class folder "
                "(e.g. '001.Black_footed_Albatross/x.jpg')",
            )
        if not (cubv2 / path).is_file():
            raise MetadataError(boxes_file, number, f"image '{cubv2 / path}' not found")
        entry = found.setdefault(path, Cubv2Image(path, folder_labels[folder], []))
        entry.boxes.append((box, number))
    if not found:
        raise DataError(f"{boxes_file}: holds no CUBV2 boxes")
    return list(found.values())


def _folder_labels(images: list[CubImage]) -> dict[str, int]:
    labels: dict[str, int] = {}
    for im in images:
        folder = im.path.split("/")[0]
        if labels.setdefault(folder, im.label) != im.label:
            raise DataError(
                f"images of folder '{folder}' carry two classes ({labels[folder] + 1} and "
                f"{im.label + 1}) in image_class_labels.txt"
            )
    return labels


def prepare_cub(
    root: Path,
    out: Path | None = None,
    *,
    cubv2: Path | None = None,
    cubv2_boxes: Path | None = None,
    masks: Path | None = None,
    val_per_class: int = DEFAULT_VAL_PER_CLASS,
    seed: int = 0,
    overwrite: bool = False,
    skip_bad_images: bool = False,
    workers: int = 8,
    progress: Progress = no_progress,
) -> PrepareSummary:
    """Convert a CUB_200_2011 folder (and optionally CUBV2) into a prepared dataset at ``out``.

    ``out`` defaults to ``ROOT/wsolkit``. Without ``cubv2``, ``val_per_class``
    images of each class are drawn from train with ``seed`` (0: no val split).
    ``masks`` adds a mask to every test image (PxAP and pIoU on test).
    Everything is read and checked before ``out`` is touched.
    """
    root = Path(root)
    out = Path(out) if out is not None else default_out(root)
    cub, class_names = read_cub(root)
    images_dir = require_dir(root / "images", "CUB image folder", "ROOT must be CUB_200_2011")
    mask_root = cub_mask_root(Path(masks)) if masks is not None else None
    notes: list[str] = []
    layout = _Layout(images_dir)
    if cubv2 is not None:
        layout = _with_cubv2(layout, Path(cubv2), cubv2_boxes, _folder_labels(cub), notes)
    main, v2 = layout.main_prefix, layout.v2_prefix
    test_masks: dict[str, MaskAnnotation] = {}
    if mask_root is not None:  # a missing mask fails before the image headers are read
        test_paths = {main + im.path: im.path for im in cub if not im.is_train}
        test_masks = find_cub_masks(mask_root, test_paths, layout.image_root)
    ids = [main + im.path for im in cub] + [v2 + im.path for im in layout.v2]
    sizes, bad = read_image_sizes(
        layout.image_root, ids, skip_bad_images=skip_bad_images, workers=workers, progress=progress
    )
    _check_boxes(root / "bounding_boxes.txt", cub, layout, sizes)
    if mask_root is not None:
        check_mask_sizes(
            mask_root, test_masks, sizes, layout.image_root, workers=workers, progress=progress
        )
    labels = {main + im.path: im.label for im in cub} | {v2 + v.path: v.label for v in layout.v2}
    boxes = {main + im.path: [im.box] for im in cub} | {
        v2 + v.path: [b for b, _ in v.boxes] for v in layout.v2
    }
    train = [main + im.path for im in cub if im.is_train]
    test = [main + im.path for im in cub if not im.is_train]
    if layout.v2:
        val = [v2 + v.path for v in layout.v2]
        notes.append(f"val: the {len(val):,} CUBV2 images of {layout.boxes_file}")
    else:
        train, val = _carve_val(train, labels, set(bad), val_per_class, seed, notes)
    if len(class_names) != NUM_CLASSES:
        notes.append(f"found {len(class_names)} classes (CUB-200-2011 has {NUM_CLASSES})")
    if bad:
        notes.append(f"left out {len(bad)} unreadable image(s), e.g. {', '.join(bad[:3])}")
    ids = {"train": train, "val": val, "test": test}
    splits = make_splits(ids, labels, sizes, dict.fromkeys(ids, boxes), bad)
    if mask_root is not None and "test" in splits:
        splits["test"].masks = {i: test_masks[i] for i in splits["test"].image_ids}
        notes.append(mask_note(len(splits["test"].masks), mask_root))
    manifest = DatasetManifest(
        dataset="cub",
        num_classes=len(class_names),
        class_names=class_names,
        annotation="boxes",
        image_root=manifest_path(
            layout.image_root, out, anchor=layout.image_root if layout.main_prefix else root
        ),
        mask_root=None if mask_root is None else manifest_path(mask_root, out, anchor=root),
        notes=notes,
    )
    summaries = write_dataset(out, splits, manifest, overwrite=overwrite)
    return PrepareSummary("cub", out, "boxes", summaries, notes, skipped=len(bad))


@dataclass
class _Layout:
    """Where the images live: one image root, the id prefixes of CUB and CUBV2 below it."""

    image_root: Path
    main_prefix: str = ""
    v2_prefix: str = ""
    v2: list[Cubv2Image] = field(default_factory=list)
    boxes_file: Path | None = None


def _with_cubv2(
    layout: _Layout,
    cubv2: Path,
    boxes: Path | None,
    folder_labels: dict[str, int],
    notes: list[str],
) -> _Layout:
    require_dir(cubv2, "CUBV2 folder", "pass the folder where CUBV2.tar was extracted")
    boxes_file = find_cubv2_boxes(cubv2, boxes)
    v2 = read_cubv2(cubv2, boxes_file, folder_labels)
    if cubv2.resolve() == layout.image_root.resolve():
        return _Layout(layout.image_root, "", "", v2, boxes_file)
    image_root, main, v2_prefix = common_root(layout.image_root, cubv2)
    notes.append(
        f"image ids start with '{main}' and '{v2_prefix}' because CUBV2 lives outside "
        "ROOT/images; extract CUBV2.tar into ROOT/images (as wsolevaluation does) to keep the "
        "canonical ids"
    )
    return _Layout(image_root, main, v2_prefix, v2, boxes_file)


def _check_boxes(
    boxes_txt: Path, cub: list[CubImage], layout: _Layout, sizes: dict[str, tuple[int, int]]
) -> None:
    """Every box inside its image; errors name the box file and line."""
    for im in cub:
        if layout.main_prefix + im.path in sizes:
            size = sizes[layout.main_prefix + im.path]
            check_box(im.box, size, f"{boxes_txt}:{im.box_line}")
    for v in layout.v2:
        for box, line in v.boxes:
            if layout.v2_prefix + v.path in sizes:
                check_box(box, sizes[layout.v2_prefix + v.path], f"{layout.boxes_file}:{line}")


def _carve_val(
    train: list[str],
    labels: dict[str, int],
    bad: set[str],
    per_class: int,
    seed: int,
    notes: list[str],
) -> tuple[list[str], list[str]]:
    """``(train, val)``: ``per_class`` readable train images per class moved to val."""
    by_class: dict[int, list[str]] = {}
    for image_id in train:
        if image_id not in bad:
            by_class.setdefault(labels[image_id], []).append(image_id)
    picked = carve_per_class(by_class, per_class, seed)
    val = [i for i in train if i in picked]
    if val:
        notes.append(
            f"val: no CUBV2 given, so {per_class} train images per class were drawn with seed "
            f"{seed} ({len(val):,} images) and removed from train; val numbers are not "
            "comparable with CUBV2 ones"
        )
    else:
        notes.append("no val split: no CUBV2 given and --val-per-class 0")
    return [i for i in train if i not in picked], val


CUB = DatasetSpec(
    name="cub",
    description="CUB-200-2011 birds (200 classes, boxes); val = CUBV2 or carved from train.",
    annotation="boxes",
    num_classes=NUM_CLASSES,
    eval_size=224,
    norm_region="max",
)
