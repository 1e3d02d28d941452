"""Atomic file writes, and disk failures as one-line user errors.

:func:`atomic_path` writes to a temp file in the same folder, then ``os.replace``:
a reader never sees a half-written file, and a crash leaves the old file (or
none) in place, never a truncated one.

:func:`write_guard` turns the write failures a user can fix — a full disk or
quota (ENOSPC, EDQUOT), a file too large (EFBIG), a read-only file system
(EROFS), no permission (EACCES, EPERM) — into a :class:`DiskWriteError` that
names the file, the cause in words and the fix; any other ``OSError`` passes
through unchanged. :func:`atomic_path` applies it, so every atomic writer
(checkpoints, metadata, settings, score maps) reports a full disk in one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from wsolkit.errors import WsolkitError

_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded on the device",
    errno.EFBIG: "file too large for its file system or the file-size limit (ulimit -f)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
WRITE_ERRNOS = frozenset(_CAUSES)
_FIXES = {
    errno.ENOSPC: "free space and try again",
    errno.EDQUOT: "free space (or raise the quota) and try again",
    errno.EFBIG: "write to another file system (or raise the limit) and try again",
    errno.EROFS: "write to a writable folder (or remount it read-write) and try again",
    errno.EACCES: "write to a folder you may write in, or fix its permissions",
    errno.EPERM: "write to a folder you may write in, or fix its permissions",
}
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_PROBE_BYTES = 1 << 20  # appended to a failed temp file: does the disk refuse it too?
_ERRNO_IN_TEXT = re.compile(r"errno = (\d+)")  # HDF5 puts the C errno in its message


class DiskWriteError(WsolkitError):
    """A file could not be written: the disk is full, read-only, or not writable by us.

    ``str()`` is one line: ``cannot write <what> <path>: <cause>[ <detail>]; <fix>``.
    """

    def __init__(
        self,
        path: Path | str,
        error_number: int,
        what: str = "",
        *,
        detail: str = "",
        fix: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.errno = error_number
        cause = _CAUSES.get(error_number, os.strerror(error_number).lower())
        named = f"{what} {self.path}" if what else str(self.path)
        hint = fix if fix is not None else _FIXES.get(error_number, "try again")
        super().__init__(f"cannot write {named}: {cause}{' ' + detail if detail else ''}; {hint}")

    @property
    def no_space(self) -> bool:
        """True for a full disk or an exceeded quota."""
        return self.errno in _NO_SPACE


def write_errno(exc: BaseException) -> int | None:
    """The errno of a failed write: ``OSError.errno``, else the one HDF5 names in its message."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    found = _ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def write_guard(
    path: Path | str, what: str = "", *, detail: str = "", fix: str | None = None
) -> Iterator[None]:
    """Raise :class:`DiskWriteError` for an ``OSError`` of a full, read-only or foreign disk.

    ``with write_guard(out, "metrics file"): append(...)`` — the error names the
    failing file (``OSError.filename`` when there is one, else ``path``), the cause
    and ``fix`` (default: a fix for the cause). Other exceptions pass unchanged.
    """
    try:
        yield
    except OSError as exc:
        failed = exc.filename if isinstance(exc.filename, (str, os.PathLike)) else path
        _raise_translated(exc, failed, what, detail=detail, fix=fix)
        raise


def _raise_translated(
    exc: OSError, path: Path | str, what: str, detail: str = "", fix: str | None = None
) -> None:
    """Raise ``exc`` as a :class:`DiskWriteError` naming ``path`` if its errno is a write one."""
    number = write_errno(exc)
    if number is not None and number in WRITE_ERRNOS:
        raise DiskWriteError(path, number, what, detail=detail, fix=fix) from exc


@contextlib.contextmanager
def _guard_named(path: Path, what: str) -> Iterator[None]:
    """Like :func:`write_guard`, but the error always names ``path`` (not a temp file)."""
    try:
        yield
    except OSError as exc:
        _raise_translated(exc, path, what)
        raise


def free_bytes(path: Path | str) -> int:
    """Bytes free to this user on the file system of ``path`` (or of its nearest parent)."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def require_free_space(
    path: Path | str, need: int, what: str = "", *, fix: str | None = None
) -> None:
    """Raise ``DiskWriteError`` (ENOSPC) before writing if fewer than ``need`` bytes are free."""
    free = free_bytes(path)
    if free < need:
        detail = f"({format_bytes(free)} free, {format_bytes(need)} needed)"
        raise DiskWriteError(path, errno.ENOSPC, what, detail=detail, fix=fix)


def format_bytes(count: int) -> str:
    """``12.3 MB``: a byte count in decimal units, 3 significant digits."""
    value = float(count)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which is not thread-safe.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = "", *, what: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    ``with atomic_path(out) as tmp: save(tmp)`` — on an exception the temporary
    file is removed and ``path`` is untouched. A full, read-only or foreign disk
    is a :class:`DiskWriteError` naming ``path`` (and ``what`` it is), also when
    the writer inside (``torch.save``, a C library) reported it without an errno.
    """
    path = Path(path)
    with _guard_named(path, what):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent
        )
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _guard_named(path, what):
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; keep the usual permissions
        try:
            yield tmp
        except OSError as exc:
            if exc.filename not in (None, str(tmp), tmp):  # not our write (a read inside)
                raise
            _raise_translated(exc, path, what)
            if write_errno(exc) is None:  # NumPy: "1024 requested and 496 written"
                _raise_if_disk_refuses(tmp, path, what, exc)
            raise
        except WsolkitError:
            raise  # the caller's own refusal, not the disk's
        except Exception as exc:  # torch.save: RuntimeError("... unexpected pos ...")
            _raise_if_disk_refuses(tmp, path, what, exc)
            raise
        with _guard_named(path, what):
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _raise_if_disk_refuses(tmp: Path, path: Path, what: str, exc: Exception) -> None:
    """After a writer failed without an errno, ask the disk whether it refuses writes.

    ``torch.save`` on a full disk raises ``RuntimeError("... unexpected pos ...")``,
    NumPy an ``OSError`` without errno. Appending up to 1 MiB to the temp file
    (removed afterwards) tells: if that fails with a write errno, the failure is
    the disk's and is reported as such.
    """
    try:
        with open(tmp, "ab") as fh:
            fh.write(bytes(_PROBE_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as probe:
        number = write_errno(probe)
        if number is not None and number in WRITE_ERRNOS:
            raise DiskWriteError(path, number, what) from exc


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
