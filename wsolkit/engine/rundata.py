"""The data of a run, checked before the first epoch.

- every split that takes part (train, and val/test when present) must hold images:
  an empty one is an error naming it, never a run that "trains" on 0 images or
  validates nothing;
- every image file must exist and its header must read (``data.check_images``):
  a bad file is found in seconds, not after the last epoch. With
  ``data.skip_bad_images`` the bad images are left out of every split, and counted;
- each split's metadata has a fingerprint, recorded in the checkpoints: a run
  resumes only on the data it was trained on;
- ``data.val_per_class`` keeps K images per class of the val split (a seeded draw,
  the same in every process and run), and ``data.val_boxes`` adds box sets of the
  val split (pseudo-boxes), read by the strict metadata reader;
- with ``data.resize_cache`` the training images are read from the resize cache
  (:mod:`wsolkit.data.resize_cache`), built here on the first run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.data.dataset import BadImage
from wsolkit.data.metadata import SplitMetadata
from wsolkit.data.source import DataSource
from wsolkit.engine.checkpoint import DatasetInfo
from wsolkit.errors import DataError
from wsolkit.progress import Progress, phase
from wsolkit.settings import Settings

FindBad = Callable[[DataSource, list[tuple[str, SplitMetadata]]], dict[str, list[BadImage]]]


@dataclass
class RunData:
    """The splits and datasets of a run (val and test are None when the folder lacks them)."""

    source: DataSource
    train: Any
    val: Any | None
    test: Any | None
    val_meta: SplitMetadata | None
    test_meta: SplitMetadata | None
    fingerprints: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, list[BadImage]] = field(default_factory=dict)
    val_box_sets: dict[str, SplitMetadata] = field(default_factory=dict)
    val_ids: list[str] | None = None  # the val images drawn by data.val_per_class

    @property
    def skipped_count(self) -> int:
        """Unreadable images left out before training, over every split."""
        return sum(len(bad) for bad in self.skipped.values())


def run_splits(settings: Settings, source: DataSource) -> dict[str, str]:
    """Role → split name of the splits that take part: train always, val/test when present."""
    d = settings.data
    present = set(source.splits)
    roles = {"train": d.train_split}
    for role, name in (("val", d.val_split), ("test", d.test_split)):
        if name in present:
            roles[role] = name
    return roles


def load_run_data(
    settings: Settings,
    *,
    progress: Progress | None = None,
    find_bad: FindBad | None = None,
) -> RunData:
    """The data source, the train dataset and the evaluation splits that exist, checked.

    ``find_bad(source, [(split, metadata), ...])`` (default: :func:`find_bad_images`
    with ``progress``) lists the unreadable images per split; under DDP the engine
    passes one that checks on rank 0 and shares the result.
    """
    source = DataSource.from_settings(settings.data)
    roles = run_splits(settings, source)
    metas = {role: source.split(name) for role, name in roles.items()}
    _require_images(settings, source, roles, metas)
    val_ids = None
    if "val" in metas and settings.data.val_per_class is not None:
        val_ids = per_class(metas["val"], settings.data.val_per_class, settings.runtime.seed)
        metas["val"] = metas["val"].subset(val_ids)
    bad: dict[str, list[BadImage]] = {}
    if settings.data.check_images:
        pairs = [(roles[role], metas[role]) for role in roles]
        if find_bad is None:
            bad = find_bad_images(source, pairs, progress)
        else:
            bad = find_bad(source, pairs)
        if any(bad.values()) and not settings.data.skip_bad_images:
            raise _bad_images_error(source, bad)
    exclude = {image.image_id for images in bad.values() for image in images}
    if val_ids is not None:  # the val images not drawn are left out like unreadable ones
        exclude |= set(source.split(roles["val"]).image_ids) - set(val_ids)
    datasets = {
        role: source.torch_dataset(name, train=role == "train", exclude=exclude)
        for role, name in roles.items()
    }
    for role, dataset in datasets.items():
        if len(dataset) == 0:
            raise DataError(
                f"every image of the {roles[role]} split ({source.root / roles[role]}) is "
                "unreadable and was skipped: nothing is left to use"
            )
    if settings.data.resize_cache:
        attach_resize_cache(datasets["train"], settings, source, roles["train"], progress)
    return RunData(
        source,
        datasets["train"],
        datasets.get("val"),
        datasets.get("test"),
        metas.get("val"),
        metas.get("test"),
        fingerprints={name: source.fingerprint(name) for name in roles.values()},
        skipped={name: images for name, images in bad.items() if images},
        val_box_sets=_box_sets(
            settings, source.split(roles["val"]) if "val" in roles else None, val_ids
        ),
        val_ids=val_ids,
    )


def attach_resize_cache(
    dataset: Any,
    settings: Settings,
    source: DataSource,
    split: str,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Make ``dataset`` (the training split) read its resized images from the resize cache,
    building the cache file first when it does not exist; returns the file's path."""
    from wsolkit.cache import default_cache_dir
    from wsolkit.data.images import load_rgb
    from wsolkit.data.resize_cache import build_or_open, cache_file, cache_key
    from wsolkit.data.transforms import train_augment, train_resize

    data = settings.data
    resize = train_resize(data)
    fingerprint = source.fingerprint(split)
    name = source.dataset or data.dataset or "data"
    key = cache_key(name, split, data.resize_size, dataset.image_ids, fingerprint)
    path = cache_file(cache_dir or default_cache_dir(), key)

    def load(image_id: str) -> np.ndarray:
        return np.asarray(resize(load_rgb(source.image_root / image_id)), dtype=np.uint8)

    resized = build_or_open(
        path, key, dataset.image_ids, load, progress=progress, threads=available_cores()
    )
    dataset.use_resized(resized, train_augment(data))
    return path


def available_cores() -> int:
    """CPU cores this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def per_class(meta: SplitMetadata, k: int, seed: int) -> list[str]:
    """``k`` ids of every class of ``meta`` (all of a smaller class), in ``meta``'s order.

    Classes are visited in label order; one ``random.Random`` seeded with the string
    ``"val_per_class:<seed>"`` draws ``sample(ids, k)`` from each class's ids in file
    order: the same split and seed give the same ids on every platform and process.
    """
    import random

    rng = random.Random(f"val_per_class:{seed}")
    by_class: dict[int, list[str]] = {}
    for image_id in meta.image_ids:
        by_class.setdefault(meta.labels[image_id], []).append(image_id)
    chosen: set[str] = set()
    for label in sorted(by_class):
        ids = by_class[label]
        chosen.update(rng.sample(ids, min(k, len(ids))))
    return [image_id for image_id in meta.image_ids if image_id in chosen]


def _box_sets(
    settings: Settings, val: SplitMetadata | None, val_ids: list[str] | None
) -> dict[str, SplitMetadata]:
    """``data.val_boxes`` read against the whole val split (boxes replaced, same images),
    then restricted to the images ``data.val_per_class`` drew."""
    from wsolkit.data.metadata import read_box_set

    sets = settings.data.val_boxes
    if not sets:
        return {}
    if val is None:
        raise DataError("data.val_boxes is set but the data has no val split to validate on")
    out = {}
    for name, folder in sets.items():
        boxed = val.with_boxes(read_box_set(folder, val))
        out[name] = boxed.subset(val_ids) if val_ids is not None else boxed
    return out


def _require_images(
    settings: Settings,
    source: DataSource,
    roles: dict[str, str],
    metas: dict[str, SplitMetadata],
) -> None:
    """An empty split that takes part is an error naming it (an absent val/test is fine)."""
    for role, name in roles.items():
        meta = metas[role]
        folder = source.root / name
        if role == "train" and settings.data.use_proxy and meta.proxy_ids is not None:
            if not meta.proxy_ids:
                raise DataError(
                    f"{folder / 'image_ids_proxy.txt'} lists no image: there is nothing to "
                    "train on; add images or unset data.use_proxy"
                )
            continue
        if len(meta) == 0:
            consequence = {
                "train": "there is nothing to train on",
                "val": "it would give no validation score and no best checkpoint; add images, "
                "or remove the folder to train without validation",
                "test": "there is nothing to test; add images, or remove the folder to train "
                "without a test",
            }[role]
            raise DataError(f"the {role} split {folder} holds no image ({consequence})")


def find_bad_images(
    source: DataSource, splits: list[tuple[str, SplitMetadata]], progress: Progress | None
) -> dict[str, list[BadImage]]:
    """Open every image's header (see :mod:`wsolkit.data.check`); the bad ones per split."""
    from wsolkit.data.check import check_images

    root = source.image_root
    return {
        name: check_images(meta, root, progress=phase(progress, f"checking {name} images"))
        for name, meta in splits
    }


def _bad_images_error(source: DataSource, bad: dict[str, list[BadImage]]) -> DataError:
    count = sum(len(images) for images in bad.values())
    split, images = next((name, images) for name, images in bad.items() if images)
    first = images[0]
    where = ", ".join(f"{len(images)} in {name}" for name, images in bad.items() if images)
    return DataError(
        f"{count} image(s) cannot be used ({where}); first: {first.reason}. Fix or remove "
        "them, or pass --skip-bad-images to leave them out (they are counted)"
    )


def check_fingerprints(recorded: DatasetInfo, data: RunData, run_path: Any) -> str | None:
    """Refuse to resume on other data; returns a note when the run predates fingerprints."""
    classes_then, classes_now = recorded.num_classes, data.source.num_classes
    if classes_then != classes_now:
        raise DataError(
            f"cannot resume {run_path}: the data at {data.source.root} has {classes_now} classes, "
            f"the run was trained on {classes_then}; resume on the same data or start a new run"
        )
    if recorded.fingerprints is None:
        return (
            f"{run_path} was made before wsolkit recorded data fingerprints: the data it "
            "resumes on cannot be checked"
        )
    then = recorded.fingerprints
    for name in [*data.fingerprints, *(n for n in then if n not in data.fingerprints)]:
        if then.get(name) == data.fingerprints.get(name):
            continue
        if name not in data.fingerprints:
            change = "is gone"
        elif name not in then:
            change = "is new (the run had no such split)"
        else:
            change = "changed since the run was trained on it (regenerated or edited?)"
        raise DataError(
            f"cannot resume {run_path}: the {name} split at {data.source.root / name} {change}; "
            "resume on the same data, or start a new run"
        )
    return None
