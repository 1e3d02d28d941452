"""Helpers shared by the dataset converters: image paths and sizes, val carving.

A converter checks every image path it lists from the file system
(:func:`check_image_id`: UTF-8, no comma, backslash or line break), reads the
image sizes (:func:`read_image_sizes`), gathers one
:class:`~wsolkit.data.metadata.SplitMetadata` per split and hands them to
:func:`wsolkit.data.prepare._output.write_dataset`.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from wsolkit.data.images import ImageReadError, read_headers
from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.progress import Progress, no_progress, phase

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
SPLITS = ("train", "val", "test")
DEFAULT_OUT_NAME = "wsolkit"


def is_image(path: Path) -> bool:
    """An image file by its extension (case-insensitive), hidden files excluded."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def require_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` if it is a folder, else a one-line error saying what was expected."""
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found; {fix}")
    return path


# str.splitlines() splits a metadata file on each of these, so no path may hold one.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_UNWRITABLE = re.compile(f"[,\\\\{_LINE_BREAKS}]")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: Path | str) -> str:
    """``path`` as text that can be printed: bytes that are not UTF-8 appear as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_image_id(root: Path, image_id: str) -> str:
    """``image_id`` (a ``/``-separated path below ``root``) if a metadata line can hold it.

    A folder or file name that is not UTF-8 (Python gives such names as
    surrogate escapes, which cannot be written to a UTF-8 file), a comma, a
    backslash, a line break, or a space at either end is a one-line DataError
    naming the folder and the name. Converters check every id they list from the
    file system before anything is written.
    """
    try:
        image_id.encode("utf-8")
    except UnicodeEncodeError:
        parts = image_id.split("/")
        depth, name = next((d, n) for d, n in enumerate(parts) if not _is_utf8(n))
        kind = "file" if depth == len(parts) - 1 else "folder"
        raise DataError(
            f"{printable(root.joinpath(*parts[:depth]))}: the {kind} name "
            f"{os.fsencode(name)!r} is not UTF-8, which metadata files need; rename it to "
            "UTF-8 (e.g. convmv -f latin1 -t utf8 -r --notest FOLDER)"
        ) from None
    problem = None
    found = _UNWRITABLE.search(image_id)
    if found is not None:
        problem = {",": "a comma", "\\": "a backslash"}.get(found[0], "a line break")
    elif image_id != image_id.strip():
        problem = "a space at its start or end"
    if problem is not None:
        shown = printable(root / image_id)
        if any(c in shown for c in _LINE_BREAKS):
            shown = repr(shown)  # the message stays on one line
        raise DataError(
            f"{shown}: {problem} in an image path breaks the metadata format; rename it"
        )
    return image_id


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
    Without it, the first unreadable image (in ``image_ids`` order) is raised once
    every header has been read, with the count of the others.
    """
    results = read_headers(
        [image_root / image_id for image_id in image_ids],
        workers=workers,
        progress=phase(progress, description),
    )
    sizes: dict[str, tuple[int, int]] = {}
    bad: list[str] = []
    errors: list[ImageReadError] = []
    for image_id, result in zip(image_ids, results, strict=True):
        if isinstance(result, ImageReadError):
            bad.append(image_id)
            errors.append(result)
        else:
            sizes[image_id] = result
    if errors and not skip_bad_images:
        more = f" (and {len(errors) - 1:,} more unreadable image(s))" if len(errors) > 1 else ""
        raise ImageReadError(str(errors[0]) + more, errors[0].reason)
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
