"""The output folder of ``wsolkit prepare``: refused places, safe replacement, atomic writing.

:func:`write_dataset` is what every converter calls last: it prepares the
output folder (:func:`prepare_output`), writes every split atomically, reads
each back through the strict reader, writes ``dataset.yaml`` last, and on a
failure removes what it wrote, so no half-written or empty folder is left behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
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
from wsolkit.data.prepare._common import SPLITS
from wsolkit.data.spec import MANIFEST, DatasetManifest, SplitSummary, write_manifest
from wsolkit.errors import DataError

_OWN_FILES = {IMAGE_IDS, CLASS_LABELS, IMAGE_SIZES, LOCALIZATION, MASK_LOCALIZATION, PROXY_IDS}


def refuse_out_inside(out: Path, folders: Iterable[Path], suggestion: Path) -> None:
    """A one-line error when ``out`` is, or lies inside, one of the image ``folders``.

    A prepared dataset written among the images would be scanned as a class by
    the next run, or hide one (``--out ROOT/cat``); ``suggestion`` is a safe ``--out``.
    """
    target = out.resolve()
    for folder in folders:
        inside = folder.resolve()
        if target == inside or inside in target.parents:
            where = "is" if target == inside else f"lies inside {folder},"
            raise DataError(
                f"the output folder {out} {where} a folder of your images ('{folder.name}'); "
                f"pass --out with a folder outside the image folders, e.g. --out {suggestion}"
            )


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


def summarize(meta: SplitMetadata) -> SplitSummary:
    """Images, distinct labels and boxes (or instance masks) of one split."""
    return SplitSummary(
        images=len(meta.image_ids), classes=len(set(meta.labels.values())), boxes=meta.num_boxes()
    )


def write_dataset(
    out: Path,
    splits: dict[str, SplitMetadata],
    manifest: DatasetManifest,
    *,
    overwrite: bool,
) -> dict[str, SplitSummary]:
    """:func:`prepare_output`, then :func:`write_prepared`; a failure removes what it wrote.

    The split files and folders written, and ``out`` (and its parents) when this
    call created them, are removed again, so a failed prepare never leaves a
    half-written or empty output folder behind. Files wsolkit did not write stay.
    """
    created = _first_missing(out)
    prepare_output(out, overwrite=overwrite)
    try:
        return write_prepared(out, splits, manifest)
    except BaseException:
        _remove_partial(out, splits, created)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (``path`` included) that does not exist yet."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _remove_partial(out: Path, splits: dict[str, SplitMetadata], created: Path | None) -> None:
    """Undo a failed :func:`write_prepared`: its files, empty split folders, created folders."""

    def remove(folder: Path, names: set[str]) -> None:
        for file in folder.iterdir():
            if file.is_file() and (file.name in names or _is_temporary(file.name)):
                file.unlink()

    with contextlib.suppress(OSError):
        for name in splits:
            if (out / name).is_dir():
                remove(out / name, _OWN_FILES)
                if not any((out / name).iterdir()):
                    (out / name).rmdir()
        if out.is_dir():
            remove(out, {MANIFEST})
        if created is not None:
            for folder in (out, *out.parents):
                if any(folder.iterdir()):
                    break
                folder.rmdir()
                if folder == created:
                    break


def _is_temporary(name: str) -> bool:
    """A temporary file of :func:`wsolkit.io.atomic_path`: ``.<name>.<random>.tmp``."""
    return name.startswith(".") and name.endswith(".tmp")


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
