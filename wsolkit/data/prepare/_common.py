"""Helpers shared by the dataset converters: image sizes, output folders, val carving.

A converter gathers one :class:`~wsolkit.data.metadata.SplitMetadata` per split
and hands them to :func:`write_prepared`, which writes every split atomically,
reads each back through the strict reader, and writes ``dataset.yaml`` last.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wsolkit.data.metadata import (
    CLASS_LABELS,
    IMAGE_IDS,
    IMAGE_SIZES,
    LOCALIZATION,
    MASK_LOCALIZATION,
    PROXY_IDS,
    SplitMetadata,
    read_split,
    write_split,
)
from wsolkit.data.spec import MANIFEST, DatasetManifest, SplitSummary, write_manifest
from wsolkit.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
SPLITS = ("train", "val", "test")
DEFAULT_OUT_NAME = "wsolkit"

#: ``progress(description, done, total)``: called while a converter works (total 0: unknown).
Progress = Callable[[str, int, int], None]


def no_progress(description: str, done: int, total: int) -> None:
    """The default :data:`Progress`: do nothing."""


def is_image(path: Path) -> bool:
    """An image file by its extension (case-insensitive), hidden files excluded."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def require_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` if it is a folder, else a one-line error saying what was expected."""
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found; {fix}")
    return path


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the image header (no decoding); unreadable -> DataError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"{path}: cannot read the image header ({exc}); replace the file, or pass "
            "--skip-bad-images to leave it out"
        ) from None
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: image has an empty size {width}x{height}")
    return width, height


def read_image_sizes(
    image_root: Path,
    image_ids: Sequence[str],
    *,
    skip_bad_images: bool = False,
    workers: int = 8,
    progress: Progress = no_progress,
    description: str = "reading image sizes",
) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Sizes of ``image_root / id`` for every id, read from the headers in a thread pool.

    Returns ``(sizes, bad_ids)``; ``bad_ids`` is empty unless ``skip_bad_images``,
    in which case an unreadable image is left out of ``sizes`` instead of raising.
    """
    sizes: dict[str, tuple[int, int]] = {}
    bad: list[str] = []
    total = len(image_ids)

    def one(image_id: str) -> tuple[str, tuple[int, int] | None]:
        try:
            return image_id, image_size(image_root / image_id)
        except DataError:
            if not skip_bad_images:
                raise
            return image_id, None

    step = max(1, total // 200)
    progress(description, 0, total)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, (image_id, size) in enumerate(pool.map(one, image_ids), start=1):
            if size is None:
                bad.append(image_id)
            else:
                sizes[image_id] = size
            if done % step == 0 or done == total:
                progress(description, done, total)
    return sizes, bad


def drop_ids(meta: SplitMetadata, bad: Iterable[str]) -> SplitMetadata:
    """``meta`` without the images in ``bad``."""
    bad = set(bad)
    if not bad:
        return meta
    keep = [i for i in meta.image_ids if i not in bad]
    return SplitMetadata(
        keep,
        {i: meta.labels[i] for i in keep},
        {i: meta.sizes[i] for i in keep if i in meta.sizes},
        None if meta.boxes is None else {i: meta.boxes[i] for i in keep},
        None if meta.masks is None else {i: meta.masks[i] for i in keep},
        None if meta.proxy_ids is None else [i for i in meta.proxy_ids if i not in bad],
    )


def default_out(root: Path) -> Path:
    """Where ``wsolkit prepare`` writes unless told: ``ROOT/wsolkit``."""
    return root / DEFAULT_OUT_NAME


_OWN_FILES = {IMAGE_IDS, CLASS_LABELS, IMAGE_SIZES, LOCALIZATION, MASK_LOCALIZATION, PROXY_IDS}


def prepare_output(out: Path, *, overwrite: bool) -> None:
    """Make ``out`` ready for a new prepared dataset.

    An existing prepared folder (one with ``dataset.yaml``) is refused unless
    ``overwrite``; then its manifest goes first (the folder reads as incomplete
    until the new one is written) and the old split files are removed. Files
    wsolkit did not write are never deleted: a folder holding any is refused.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; pass another --out")
    if (out / MANIFEST).exists() and not overwrite:
        raise DataError(
            f"{out} already holds a prepared dataset ({MANIFEST}); pass --overwrite to replace it "
            "or --out DIR to write elsewhere"
        )
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if not _ours(p)]
        if foreign:
            raise DataError(
                f"{out} is not empty (holds {', '.join(sorted(foreign)[:3])}); pass --out with an "
                "empty or new folder"
            )
        (out / MANIFEST).unlink(missing_ok=True)
        for split in out.iterdir():
            if split.is_dir():
                for file in split.iterdir():
                    file.unlink()
                split.rmdir()
    out.mkdir(parents=True, exist_ok=True)


def _ours(path: Path) -> bool:
    """A file or split folder that ``wsolkit prepare`` writes (or its leftovers)."""
    if path.name == MANIFEST or path.name.startswith(f".{MANIFEST}."):
        return True
    if not path.is_dir() or path.name not in SPLITS:
        return False
    return all(
        f.is_file() and (f.name in _OWN_FILES or f.name.startswith(".")) for f in path.iterdir()
    )


def manifest_path(target: Path, out: Path, anchor: Path | None = None) -> str:
    """``target`` as the manifest stores it: relative to ``out`` when both lie in ``anchor``.

    With ``anchor`` the dataset ROOT, ``ROOT/wsolkit`` pointing at ``ROOT/images``
    stores ``../images``, so the whole tree can move; anything else stays absolute.
    """
    target, out_abs = target.resolve(), out.resolve()
    anchor = (anchor or target).resolve()

    def inside(path: Path) -> bool:
        return path == anchor or anchor in path.parents

    if inside(target) and inside(out_abs):
        return Path(os.path.relpath(target, out_abs)).as_posix()
    return str(target)


def common_root(first: Path, second: Path) -> tuple[Path, str, str]:
    """The deepest folder holding both, and each one's path below it (``''`` if it is the root).

    Used when a val split's images live outside the main image folder.
    """
    first, second = first.resolve(), second.resolve()
    try:
        root = Path(os.path.commonpath([first, second]))
    except ValueError:  # different drives (Windows)
        raise DataError(
            f"{first} and {second} share no common folder; move them onto one drive"
        ) from None

    def below(path: Path) -> str:
        rel = path.relative_to(root).as_posix()
        return "" if rel == "." else rel + "/"

    return root, below(first), below(second)


def carve_per_class(candidates: dict[int, list[str]], per_class: int, seed: int) -> set[str]:
    """Pick ``per_class`` ids of every class, reproducibly for ``seed``.

    Classes are visited in label order, each one's ids in the given order, and a
    single ``random.Random(seed)`` draws ``sample(ids, k)``: the same inputs give
    the same picks on every platform and Python version.
    """
    rng = random.Random(seed)
    picked: set[str] = set()
    for label in sorted(candidates):
        ids = candidates[label]
        picked.update(rng.sample(ids, min(per_class, len(ids))))
    return picked


def summarize(meta: SplitMetadata) -> SplitSummary:
    """Images, distinct labels and boxes (or instance masks) of one split."""
    return SplitSummary(
        images=len(meta.image_ids), classes=len(set(meta.labels.values())), boxes=meta.num_boxes()
    )


def write_prepared(
    out: Path,
    splits: dict[str, SplitMetadata],
    manifest: DatasetManifest,
) -> dict[str, SplitSummary]:
    """Write every split, check it by reading it back, then write ``dataset.yaml`` last.

    Every split but ``train`` must carry localization for every image.
    """
    summaries: dict[str, SplitSummary] = {}
    for name, meta in splits.items():
        folder = out / name
        write_split(folder, meta)
        check = read_split(
            folder, num_classes=manifest.num_classes, require_localization=name != "train"
        )
        summaries[name] = summarize(check)
    counts = {name: s.images for name, s in summaries.items()}
    write_manifest(out, manifest.model_copy(update={"splits": counts}))
    return summaries


def carve_fractions(
    candidates: dict[int, list[str]], val_fraction: float, test_fraction: float, seed: int
) -> tuple[set[str], set[str]]:
    """``(val, test)``: per class, round(n × fraction) of its ids, reproducibly for ``seed``.

    Classes are visited in label order; a single ``random.Random(seed)``
    shuffles each class's ids (in the given order); val takes the first ones,
    test the next ones. Halves round up.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction > 1:
        raise DataError(
            f"val fraction {val_fraction} and test fraction {test_fraction} must be >= 0 and "
            "sum to at most 1"
        )
    rng = random.Random(seed)
    val: set[str] = set()
    test: set[str] = set()
    for label in sorted(candidates):
        ids = list(candidates[label])
        rng.shuffle(ids)
        n_val = int(len(ids) * val_fraction + 0.5)
        n_test = min(int(len(ids) * test_fraction + 0.5), len(ids) - n_val)
        val.update(ids[:n_val])
        test.update(ids[n_val : n_val + n_test])
    return val, test


def joint_root(image_root: Path, extra: Path) -> tuple[Path, str, str]:
    """One image root for ``image_root`` and an ``extra`` image folder, and their id prefixes.

    ``extra`` inside ``image_root`` keeps ``image_root`` (and its ids unprefixed);
    otherwise the deepest common folder, and both get a prefix.
    """
    inner, outer = extra.resolve(), image_root.resolve()
    if inner == outer:
        return image_root, "", ""
    if outer in inner.parents:
        return image_root, "", inner.relative_to(outer).as_posix() + "/"
    return common_root(image_root, extra)


def make_splits(
    ids: dict[str, list[str]],
    labels: dict[str, int],
    sizes: dict[str, tuple[int, int]],
    localization: dict[str, dict | None],
    bad: list[str],
) -> dict[str, SplitMetadata]:
    """One :class:`SplitMetadata` per non-empty split, the unreadable images (``bad``) left out.

    ``localization[split]`` maps ids to boxes (a list of boxes) or to
    :class:`~wsolkit.data.metadata.MaskAnnotation`; ``None`` for no localization.
    """
    from wsolkit.data.metadata import MaskAnnotation

    splits = {}
    for name, split_ids in ids.items():
        if not split_ids:
            continue
        loc = localization.get(name)
        masks = loc is not None and isinstance(next(iter(loc.values()), None), MaskAnnotation)
        meta = SplitMetadata(
            split_ids,
            {i: labels[i] for i in split_ids},
            {i: sizes[i] for i in split_ids if i in sizes},
            None if loc is None or masks else {i: loc[i] for i in split_ids},
            {i: loc[i] for i in split_ids} if masks else None,
        )
        splits[name] = drop_ids(meta, bad)
    return splits
