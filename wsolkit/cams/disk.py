"""What a CAM store does when the disk refuses: stop cleanly, keep the committed rows.

Three lines of defence, from the most to the least common case:

1. **Room is checked before writing.** A new store needs its allocated size
   plus :data:`RESERVE_BYTES`; the writer checks before every chunk write that
   the chunk and the reserve still fit (:func:`check_room`). When they do not,
   it stops *before* the write: the file is whole, the rows written so far are
   committed (the reserve holds that commit's metadata), and the error says
   how many rows are kept.
2. **A failed HDF5 write freezes the file** (:func:`freeze`). After a write
   error HDF5's in-memory state is ahead of the file, and flushing it would
   write half of it (the damage a full disk used to leave). Instead, HDF5's
   file descriptor is pointed at a scratch file, so that nothing more reaches
   the disk: the file stays exactly as a killed process leaves it, which a
   rerun resumes at ``rows_done``. Closing then succeeds, which matters: HDF5
   closes again, at interpreter exit, the datasets and files whose close failed,
   on memory already freed (the SIGSEGV in ``H5D_close`` on a full disk).
3. **A damaged store of the same export is started over** by the writer (see
   :func:`wsolkit.cams.identity.stored_fingerprint`); any other is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import h5py

from wsolkit.io import DiskWriteError, format_bytes, free_bytes, write_errno

RESERVE_BYTES = 256 * 1024  # kept free for the metadata a commit writes (B-tree nodes, attributes)


class OutOfRoom(Exception):
    """The next write would leave less than :data:`RESERVE_BYTES` free; nothing was written."""

    def __init__(self, free: int, need: int) -> None:
        super().__init__(f"{free} bytes free, {need} needed")
        self.free, self.need = free, need


def check_room(path: Path | str, size: int) -> None:
    """Raise :class:`OutOfRoom` unless ``size`` bytes plus the reserve are free beside ``path``."""
    need = size + RESERVE_BYTES
    free = free_bytes(path)
    if free < need:
        raise OutOfRoom(free, need)


def freeze(file: h5py.File) -> None:
    """Let nothing more of ``file``'s HDF5 caches reach the disk (see the module docstring).

    HDF5's descriptor is replaced (``dup2``) by one of an anonymous memory file
    (``/dev/null`` where there is none): its later writes, flushes and the close
    succeed there, and the file on disk keeps what was written before. Safe to
    call twice; a file already closed is left alone.
    """
    try:
        fd = int(file.id.get_vfd_handle())
    except Exception:  # closed, or a driver without a descriptor: nothing can be written
        return
    scratch = _scratch_descriptor()
    try:
        os.dup2(scratch, fd)
    finally:
        os.close(scratch)


def _scratch_descriptor() -> int:
    if hasattr(os, "memfd_create"):  # Linux: accepts writes, reads and truncation
        with contextlib.suppress(OSError):
            return os.memfd_create("wsolkit-frozen-cam-store")
    return os.open(os.devnull, os.O_RDWR)


def close_quietly(file: h5py.File) -> None:
    """Close ``file``, ignoring HDF5's errors (call :func:`freeze` first after a failed write)."""
    with contextlib.suppress(Exception):
        file.close()


def store_write_error(
    path: Path, exc: BaseException, rows_done: int, total: int
) -> DiskWriteError | None:
    """The one-line error of a store write that the disk refused, or None if it was not that.

    ``exc`` is an :class:`OutOfRoom` or an h5py error carrying a write errno
    (ENOSPC, EDQUOT, EFBIG, EROFS, EACCES, EPERM).
    """
    if isinstance(exc, OutOfRoom):
        number = errno.ENOSPC
        free = f" ({format_bytes(exc.free)} free)"
    else:
        found = write_errno(exc)
        if found is None or found not in _FIXES:
            return None
        number, free = found, ""
    kept = f"after {rows_done} of {total} rows{free}"
    return DiskWriteError(path, number, "CAM store", detail=kept, fix=_fix(number, rows_done))


def resume_fix(rows_done: int) -> str:
    """The fix of a store that has no room to continue: free space, then rerun."""
    return _fix(errno.ENOSPC, rows_done)


def _fix(number: int, rows_done: int) -> str:
    return _FIXES[number].format(f"run the same command again (it continues at row {rows_done})")


_FIXES = {
    errno.ENOSPC: "free space and {}",
    errno.EDQUOT: "free space (or raise the quota) and {}",
    errno.EFBIG: "raise the file-size limit (ulimit -f) and {}, or write to another file system",
    errno.EROFS: "make the folder writable and {}, or write to another file",
    errno.EACCES: "make the file writable and {}, or write to another file",
    errno.EPERM: "make the file writable and {}, or write to another file",
}
