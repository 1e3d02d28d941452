"""The training images after the first resize, decoded once into a memory-mapped uint8 file.

The training transform starts with a deterministic square resize (PIL bilinear) of each
decoded image; only the crop and the flip after it are random. With
``data.resize_cache`` the loaders read that resized image from one uint8 file of
``N × size × size × 3`` bytes (CUB at 256 px: 1.2 GB) instead of decoding and resizing
the original file every epoch: a worker's work per image drops to a crop and a flip.
The batches are bit-identical to the uncached path (the same pixels, and the same
random numbers drawn by the same torchvision crop and flip).

The file lives in the cache folder (``$WSOLKIT_CACHE/resized/``), named by what it holds:
the dataset, the split, the size and a digest of the split's metadata fingerprint, its
image ids and the resize rule. A JSON sidecar written after the data (so its presence
means the file is complete) repeats those facts and is checked on every open: a file of
another transform, size or image list is refused, never read. It is built once, with a
progress bar, under a file lock, so concurrent runs and DDP ranks build it once and share
it; the disk space is reserved before the first byte is written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsolkit.errors import DataError
from wsolkit.io import DiskWriteError, atomic_path, atomic_write_text, require_free_space
from wsolkit.progress import Progress

FORMAT = "wsolkit-resized-v1"
# What the rows are: the decoding rules of wsolkit.data.images, then torchvision's
# Resize((size, size), BILINEAR) on the PIL image. Bump when either changes.
RULE = "load_rgb+PIL-bilinear-square"
SUBFOLDER = "resized"
_MARGIN = 64 << 20  # keep this much free after reserving the file


@dataclass(frozen=True)
class CacheKey:
    """What a cache file holds; every field is checked when the file is opened."""

    dataset: str
    split: str
    size: int
    count: int
    ids_sha256: str
    fingerprint: str
    rule: str = RULE
    format: str = FORMAT

    @property
    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def nbytes(self) -> int:
        return self.count * self.size * self.size * 3


def cache_key(
    dataset: str, split: str, size: int, ids: Sequence[str], fingerprint: str
) -> CacheKey:
    """The key of ``ids`` (in order) of ``split`` resized to ``size``."""
    ids_digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    return CacheKey(dataset, split, size, len(ids), ids_digest, fingerprint)


def cache_file(cache_dir: Path, key: CacheKey) -> Path:
    """``<cache_dir>/resized/<dataset>-<split>-<size>px-<digest16>.u8``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key.dataset)
    name = f"{safe}-{key.split}-{key.size}px-{key.digest[:16]}.u8"
    return Path(cache_dir) / SUBFOLDER / name


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


class ResizedImages:
    """An opened cache file: ``images[i]`` is row ``i`` as an ``size × size × 3`` array.

    The memory map is opened lazily in each process (a pickled instance, e.g. in a
    DataLoader worker, reopens it), read-only.
    """

    def __init__(self, path: Path, key: CacheKey) -> None:
        self.path, self.key = Path(path), key
        self._map: np.ndarray | None = None

    def __len__(self) -> int:
        return self.key.count

    def __getitem__(self, index: int) -> np.ndarray:
        if self._map is None:
            shape = (self.key.count, self.key.size, self.key.size, 3)
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape)
        return self._map[index]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "key": self.key, "_map": None}


def open_cache(path: Path, key: CacheKey) -> ResizedImages | None:
    """The cache at ``path`` if it exists and holds ``key``; ``None`` when absent.

    A file that exists but describes other images, another size or another rule (or whose
    length is wrong) is refused with one line: it is never read as if it were ours.
    """
    meta = sidecar(path)
    if not meta.is_file():
        return None
    try:
        found = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta}: unreadable resize-cache header ({exc}); delete it") from None
    expected = asdict(key)
    for field, value in expected.items():
        if found.get(field) != value:
            raise DataError(
                f"{path}: a resize cache of other images or another transform "
                f"({field} = {found.get(field)!r}, this run needs {value!r}); delete "
                f"{path} and {meta.name}, or set data.resize_cache=false"
            )
    size = path.stat().st_size if path.is_file() else -1
    if size != key.nbytes:
        raise DataError(
            f"{path}: {size} bytes, a complete resize cache of {key.count} images at "
            f"{key.size}px has {key.nbytes}; delete it and its .json, then run again"
        )
    return ResizedImages(path, key)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` (concurrent runs and ranks build once)."""
    import fcntl

    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def build_or_open(
    path: Path,
    key: CacheKey,
    ids: Sequence[str],
    load: Callable[[str], np.ndarray],
    *,
    progress: Progress | None = None,
    threads: int = 1,
) -> ResizedImages:
    """Open the cache at ``path``, building it first when absent.

    ``load(image_id)`` returns the resized ``size × size × 3`` uint8 array of one image
    (decoding errors propagate: the cache holds every image or none). The space is
    reserved (``posix_fallocate``) before decoding starts; a short disk is refused with
    one line naming the folder, the bytes free and needed.
    """
    if len(ids) != key.count:
        raise ValueError(f"{len(ids)} ids for a cache key of {key.count}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        opened = open_cache(path, key)
        if opened is not None:
            return opened
        fix = "free space, or set data.resize_cache=false (or WSOLKIT_CACHE to another disk)"
        require_free_space(path.parent, key.nbytes + _MARGIN, "resize cache", fix=fix)
        with atomic_path(path, what="resize cache") as tmp:
            _fill(tmp, key, ids, load, progress, threads, fix)
        header = {**asdict(key), "bytes": key.nbytes, "created_by": "wsolkit"}
        atomic_write_text(sidecar(path), json.dumps(header, indent=2) + "\n")
        opened = open_cache(path, key)
        assert opened is not None
        return opened


def _fill(
    tmp: Path,
    key: CacheKey,
    ids: Sequence[str],
    load: Callable[[str], np.ndarray],
    progress: Progress | None,
    threads: int,
    fix: str,
) -> None:
    row = key.size * key.size * 3
    with open(tmp, "r+b") as fh:
        fd = fh.fileno()
        if key.nbytes:
            try:
                os.posix_fallocate(fd, 0, key.nbytes)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskWriteError(tmp.parent, exc.errno, "resize cache", fix=fix) from None
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                os.ftruncate(fd, key.nbytes)  # the file system cannot reserve: write as we go
        label = f"caching resized {key.split} images ({key.size}px)"
        if progress is not None:
            progress(0, key.count, label)
        # Decoding and resizing release the GIL: threads scale; rows are written in order,
        # a bounded chunk at a time (memory stays flat on ImageNet-sized splits).
        chunk = max(1, threads) * 16
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for start in range(0, key.count, chunk):
                arrays = pool.map(load, ids[start : start + chunk])
                for i, array in enumerate(arrays, start):
                    if array.shape != (key.size, key.size, 3) or array.dtype != np.uint8:
                        raise ValueError(f"row {i}: {array.shape} {array.dtype}, expected uint8")
                    os.pwrite(fd, np.ascontiguousarray(array).tobytes(), i * row)
                if progress is not None:
                    progress(min(start + chunk, key.count), key.count, label)
