"""OpenImages30k → prepared dataset (``wsolkit prepare openimages``).

The release layout of wsolevaluation (``OpenImages_images.zip`` and
``OpenImages_annotations.zip`` extracted into one folder)::

    ROOT/train/<class>/<image>.jpg
    ROOT/val/<class>/<image>.jpg                         29,819 / 2,500 / 5,000 images
    ROOT/val/<class>/<image>_m<class>_<hash>.png         one binary mask per instance
    ROOT/val/<class>/<image>_ignore.png                  the ignore mask (PxAP)
    ROOT/test/...                                        like val

``<class>`` is the Freebase id without ``/m/`` (``01226z``, ``0bt_c3``); labels
are the class folder's index in the sorted list of all class folders (the
labels of wsolevaluation's metadata/OpenImages). Val and test get mask-form
``localization.txt`` lines ``path,mask_path,ignore_path``, masks sorted by name,
the ignore mask on the image's first line only; mask paths are relative to the
manifest's ``mask_root`` (ROOT unless masks live elsewhere in the same layout).
Train carries no localization.
"""

from __future__ import annotations

import re
from pathlib import Path

from wsolkit.data.metadata import MaskAnnotation
from wsolkit.data.prepare._common import (
    SPLITS,
    check_image_id,
    default_out,
    make_splits,
    manifest_path,
    read_image_sizes,
    require_dir,
)
from wsolkit.data.prepare._output import refuse_out_inside, write_dataset
from wsolkit.data.spec import DatasetManifest, DatasetSpec, PrepareSummary
from wsolkit.errors import DataError
from wsolkit.progress import Progress, no_progress

NUM_CLASSES = 100
IMAGE_SUFFIXES = (".jpg", ".jpeg")


def _class_folders(root: Path) -> list[str]:
    names: set[str] = set()
    for split in SPLITS:
        folder = require_dir(
            root / split,
            f"OpenImages {split} folder",
            "ROOT must hold train/, val/ and test/ (OpenImages_images.zip extracted)",
        )
        names.update(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not names:
        raise DataError(f"{root}: no class folders in train/, val/ or test/")
    return sorted(names)


def list_split(root: Path, split: str, classes: list[str]) -> list[str]:
    """Image ids ``<split>/<class>/<image>.jpg`` of one split, sorted."""
    ids = []
    for cls in classes:
        folder = root / split / cls
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            ids += [check_image_id(root, f"{split}/{cls}/{name}") for name in names]
    return ids


def find_masks(mask_root: Path, image_ids: list[str]) -> dict[str, MaskAnnotation]:
    """Instance and ignore masks of every image, from the files beside it (under ``mask_root``).

    ``<image>_m<class>_<hash>.png`` are instance masks (sorted by name);
    ``<image>_ignore.png`` is the ignore mask. An image without an instance
    mask is an error: evaluation splits need one.
    """
    masks: dict[str, MaskAnnotation] = {}
    by_folder: dict[str, list[str]] = {}
    for image_id in image_ids:
        by_folder.setdefault(image_id.rsplit("/", 1)[0], []).append(image_id)
    for folder, ids in by_folder.items():
        cls = folder.rsplit("/", 1)[1]
        files = (
            sorted(p.name for p in (mask_root / folder).glob("*.png"))
            if (mask_root / folder).is_dir()
            else []
        )
        pattern = re.compile(rf"^(?P<stem>.+)_m{re.escape(cls)}_[0-9A-Za-z]+\.png$")
        instances: dict[str, list[str]] = {}
        for name in files:
            match = pattern.match(name)
            if match:
                mask = check_image_id(mask_root, f"{folder}/{name}")
                instances.setdefault(match["stem"], []).append(mask)
        present = set(files)
        for image_id in ids:
            stem = Path(image_id).stem
            if stem not in instances:
                raise DataError(
                    f"{mask_root / image_id}: no instance mask ({stem}_m{cls}_<hash>.png) in "
                    f"{mask_root / folder}; evaluation splits need masks (pass --mask-root if "
                    "they live elsewhere)"
                )
            ignore = f"{stem}_ignore.png"
            ignore_path = (
                check_image_id(mask_root, f"{folder}/{ignore}") if ignore in present else None
            )
            masks[image_id] = MaskAnnotation(instances[stem], ignore_path)
    return masks


def prepare_openimages(
    root: Path,
    out: Path | None = None,
    *,
    mask_root: Path | None = None,
    overwrite: bool = False,
    skip_bad_images: bool = False,
    workers: int = 8,
    progress: Progress = no_progress,
) -> PrepareSummary:
    """Convert the OpenImages30k release folder into a prepared dataset at ``out``."""
    root = Path(root)
    out = Path(out) if out is not None else default_out(root)
    masks_at = Path(mask_root) if mask_root is not None else root
    require_dir(masks_at, "mask folder", "pass --mask-root with the val/ and test/ mask folders")
    classes = _class_folders(root)
    refuse_out_inside(out, [root / split for split in SPLITS], default_out(root))
    label_of = {c: k for k, c in enumerate(classes)}
    ids = {split: list_split(root, split, classes) for split in SPLITS}
    for split, split_ids in ids.items():
        if not split_ids:
            raise DataError(f"{root / split}: no .jpg images in its class folders")
    masks = {split: find_masks(masks_at, ids[split]) for split in ("val", "test")}
    labels = {i: label_of[i.split("/")[1]] for split_ids in ids.values() for i in split_ids}
    sizes, bad = read_image_sizes(
        root,
        [i for split in SPLITS for i in ids[split]],
        skip_bad_images=skip_bad_images,
        workers=workers,
        progress=progress,
    )
    notes = []
    if len(classes) != NUM_CLASSES:
        notes.append(f"found {len(classes)} classes (OpenImages30k has {NUM_CLASSES})")
    without_ignore = sum(m.ignore_path is None for s in masks.values() for m in s.values())
    if without_ignore:
        notes.append(f"{without_ignore:,} val/test images have no ignore mask (<image>_ignore.png)")
    if bad:
        notes.append(f"left out {len(bad)} unreadable image(s), e.g. {', '.join(bad[:3])}")
    splits = make_splits(ids, labels, sizes, {"train": None, **masks}, bad)
    manifest = DatasetManifest(
        dataset="openimages",
        num_classes=len(classes),
        class_names=classes,
        annotation="masks",
        image_root=manifest_path(root, out, anchor=root),
        mask_root=manifest_path(masks_at, out, anchor=root),
        notes=notes,
    )
    summaries = write_dataset(out, splits, manifest, overwrite=overwrite)
    return PrepareSummary("openimages", out, "masks", summaries, notes, skipped=len(bad))


OPENIMAGES = DatasetSpec(
    name="openimages",
    description="OpenImages30k (100 classes, instance masks, PxAP) in wsolevaluation's release.",
    annotation="masks",
    num_classes=NUM_CLASSES,
    eval_size=224,
    norm_region="max",
)
