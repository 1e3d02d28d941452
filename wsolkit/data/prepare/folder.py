"""A custom image folder → prepared dataset (``wsolkit prepare folder``).

Layouts::

    ROOT/<class>/**/*.jpg                    splits are carved (see below)
    ROOT/train|val|test/<class>/**/*.jpg     the given splits are kept

Classes are the class folder names sorted by name → labels 0..K−1 (like
torchvision's ``ImageFolder``); image ids are paths relative to ROOT. Boxes come
from a CSV ``path,x0,y0,x1,y1`` or Pascal-VOC XML files (see
:mod:`wsolkit.data.prepare._folder_boxes`). Evaluation splits need boxes: when
splits are carved, val and test take ``val_fraction`` / ``test_fraction`` of each
class's images *with boxes* (seeded), and every image without boxes goes to
train; with given splits, a val or test image without boxes is an error.

The output folder must not be (or lie inside) a folder that holds images: a
class folder named like it would otherwise be dropped from the scan. A file or
folder name that cannot be written to the UTF-8 metadata files (not UTF-8, a
comma, a backslash, a line break) is an error naming it, before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wsolkit.data.metadata import Box
from wsolkit.data.prepare._common import (
    SPLITS,
    carve_fractions,
    check_image_id,
    default_out,
    is_image,
    make_splits,
    manifest_path,
    read_image_sizes,
    require_dir,
)
from wsolkit.data.prepare._folder_boxes import FolderBoxes, read_box_csv, read_voc_boxes
from wsolkit.data.prepare._output import refuse_out_inside, write_dataset
from wsolkit.data.spec import MANIFEST, DatasetManifest, DatasetSpec, PrepareSummary
from wsolkit.errors import DataError
from wsolkit.progress import Progress, no_progress

DEFAULT_VAL_FRACTION = 0.1
DEFAULT_TEST_FRACTION = 0.2


@dataclass
class FolderScan:
    """The images of a custom folder: classes, ids per given split, each id's class."""

    classes: list[str]
    splits: dict[str, list[str]]  # {"": ids} when ROOT has no train/val/test folders
    class_of: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def image_ids(self) -> list[str]:
        """Every image id, split by split."""
        return [i for ids in self.splits.values() for i in ids]


def _subfolders(folder: Path, skip: set[Path]) -> list[Path]:
    return [
        d
        for d in sorted(folder.iterdir())
        if d.is_dir()
        and not d.name.startswith(".")
        and d.resolve() not in skip
        and not (d / MANIFEST).exists()
    ]


def _images_below(root: Path, folder: Path) -> list[str]:
    """Image ids (paths relative to ``root``) under ``folder``, recursively, sorted."""
    ids = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(current) / name
            if is_image(path):
                ids.append(check_image_id(root, path.relative_to(root).as_posix()))
    return ids


def _holds_images(folder: Path) -> bool:
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(is_image(Path(current) / name) for name in files):
            return True
    return False


def _refuse_out_among_images(root: Path, out: Path) -> None:
    """A one-line error when ``out`` is, or lies inside, a top folder of ROOT that holds images.

    The output folder is left out of the scan, so writing it into a class folder
    (``--out ROOT/cat``) would silently drop that class, or mix its files with the
    images; an output folder without images (a new one, an earlier output) is fine.
    """
    target = out.resolve()
    around = [d for d in _subfolders(root, set()) if d.resolve() in (target, *target.parents)]
    base = root.resolve()
    refuse_out_inside(
        out, [d for d in around if _holds_images(d)], base.parent / f"{base.name}-wsolkit"
    )


def scan_folder(root: Path, out: Path) -> FolderScan:
    """Find classes and images; ``out`` (and any prepared folder) is never scanned.

    ``out`` inside a folder of images (a class folder, or a train/val/test folder)
    is refused rather than dropping or mixing that folder's images.
    """
    _refuse_out_among_images(root, out)
    skip = {out.resolve()}
    top = _subfolders(root, skip)
    names = {d.name for d in top}
    split_layout = bool(names) and names <= set(SPLITS) and "train" in names
    notes: list[str] = []
    loose = [p for p in root.iterdir() if p.is_file() and is_image(p)]
    if loose:
        notes.append(
            f"{len(loose)} image(s) directly in ROOT were ignored: put them in class folders"
        )
    groups = (
        {s: _subfolders(root / s, skip) for s in SPLITS if s in names}
        if split_layout
        else {"": top}
    )
    scan = FolderScan([], {}, notes=notes)
    classes: set[str] = set()
    empty: list[str] = []
    for split, folders in groups.items():
        scan.splits[split] = []
        for folder in folders:
            ids = _images_below(root, folder)
            if not ids:
                empty.append(folder.relative_to(root).as_posix())
                continue
            classes.add(folder.name)
            scan.splits[split] += ids
            scan.class_of.update(dict.fromkeys(ids, folder.name))
    if not classes:
        raise DataError(
            f"{root}: no images in class folders; expected ROOT/<class>/*.jpg or "
            "ROOT/train|val|test/<class>/*.jpg"
        )
    if empty:
        notes.append(f"{len(empty)} folder(s) without images were ignored, e.g. {empty[0]}")
    scan.classes = sorted(classes)
    if split_layout:
        notes.append(f"splits: the {', '.join(s for s in SPLITS if s in names)} folders of ROOT")
    return scan


def _read_boxes(
    root: Path, scan: FolderScan, boxes_csv: Path | None, voc_dir: Path | None
) -> FolderBoxes:
    if boxes_csv is not None and voc_dir is not None:
        raise DataError("give either a box CSV (--boxes) or a VOC folder (--voc-dir), not both")
    if boxes_csv is not None:
        return read_box_csv(Path(boxes_csv), root, scan.image_ids)
    if voc_dir is not None:
        voc_dir = require_dir(Path(voc_dir), "VOC folder", "pass the folder of the XML files")
    found = read_voc_boxes(root, scan.image_ids, scan.class_of, voc_dir)
    if voc_dir is None and not found.boxes:
        return FolderBoxes()  # no XML beside the images: a dataset without boxes
    return found


def _assign_splits(
    scan: FolderScan,
    labels: dict[str, int],
    boxes: dict[str, list[Box]],
    usable: set[str],
    fractions: tuple[float, float],
    seed: int,
    notes: list[str],
) -> dict[str, list[str]]:
    """Ids per split: the given folders, or val/test carved from the images with boxes."""
    if "" not in scan.splits:
        for split in ("val", "test"):
            missing = [i for i in scan.splits.get(split, []) if i not in boxes]
            if missing:
                raise DataError(
                    f"{len(missing)} {split} image(s) have no box, e.g. '{missing[0]}'; evaluation "
                    f"splits need a box for every image: add boxes or move them to train/"
                )
        return {s: [i for i in ids if i in usable] for s, ids in scan.splits.items()}
    ids = [i for i in scan.splits[""] if i in usable]
    by_class: dict[int, list[str]] = {}
    for image_id in ids:
        if image_id in boxes:
            by_class.setdefault(labels[image_id], []).append(image_id)
    val, test = carve_fractions(by_class, fractions[0], fractions[1], seed)
    unboxed = sum(1 for i in ids if i not in boxes)
    notes.append(
        f"splits: val {fractions[0]:g} and test {fractions[1]:g} of each class's images with "
        f"boxes, drawn with seed {seed}"
        + (f"; the {unboxed:,} images without boxes are all in train" if unboxed else "")
    )
    if not boxes:
        notes.append(
            "no boxes: only a train split was written; evaluation needs val/test images with "
            "boxes: pass --boxes FILE.csv or --voc-dir DIR"
        )
    return {
        "train": [i for i in ids if i not in val and i not in test],
        "val": [i for i in ids if i in val],
        "test": [i for i in ids if i in test],
    }


def prepare_folder(
    root: Path,
    out: Path | None = None,
    *,
    boxes: Path | None = None,
    voc_dir: Path | None = None,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = 0,
    overwrite: bool = False,
    skip_bad_images: bool = False,
    workers: int = 8,
    progress: Progress = no_progress,
) -> PrepareSummary:
    """Convert ``ROOT/<class>/*.jpg`` or ``ROOT/train|val|test/<class>/…`` into a prepared dataset.

    ``boxes`` is a ``path,x0,y0,x1,y1`` CSV; ``voc_dir`` a folder of VOC XML
    files; with neither, VOC XML files beside the images are used when present.
    """
    root = require_dir(Path(root), "dataset folder", "pass the folder that holds the class folders")
    out = Path(out) if out is not None else default_out(root)
    scan = scan_folder(root, out)
    found = _read_boxes(root, scan, boxes, voc_dir)
    notes = scan.notes + found.notes
    sizes, bad = read_image_sizes(
        root, scan.image_ids, skip_bad_images=skip_bad_images, workers=workers, progress=progress
    )
    found.check(sizes)
    label_of = {name: k for k, name in enumerate(scan.classes)}
    labels = {i: label_of[scan.class_of[i]] for i in scan.image_ids}
    usable = set(sizes)
    split_ids = _assign_splits(
        scan, labels, found.boxes, usable, (val_fraction, test_fraction), seed, notes
    )
    if bad:
        notes.append(f"left out {len(bad)} unreadable image(s), e.g. {', '.join(bad[:3])}")
    localization: dict[str, dict | None] = {}
    for name, ids in split_ids.items():
        has_all = all(i in found.boxes for i in ids)
        localization[name] = found.boxes if has_all else None
        if name == "train" and ids and found.boxes and not has_all:
            notes.append("train: written without boxes (not every train image has one)")
    splits = make_splits(split_ids, labels, sizes, localization, bad)
    manifest = DatasetManifest(
        dataset="folder",
        num_classes=len(scan.classes),
        class_names=scan.classes,
        annotation="boxes",
        image_root=manifest_path(root, out, anchor=root),
        notes=notes,
    )
    summaries = write_dataset(out, splits, manifest, overwrite=overwrite)
    return PrepareSummary("folder", out, "boxes", summaries, notes, skipped=len(bad))


FOLDER = DatasetSpec(
    name="folder",
    description="Your own images: one folder per class, boxes from a CSV or Pascal-VOC XML.",
    annotation="boxes",
    num_classes=None,
    eval_size=224,
    norm_region="max",
)
