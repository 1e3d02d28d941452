"""Build-once folders in wsolkit's cache (the embedded synthetic dataset lives there).

:func:`build_once` returns a folder that is complete for a given *record* (a
small text file naming what the folder holds, e.g. the generation parameters)
or builds it: into a temporary folder beside the final one, then renamed into
place. A killed or concurrent run therefore never leaves a half-written folder
under the final name; two concurrent runs both build and the first rename wins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wsolkit.cache import CACHE_ENV, default_cache_dir
from wsolkit.errors import DataError

__all__ = ["CACHE_ENV", "build_once", "default_cache_dir"]

_STALE_AFTER_S = 3600  # a dead run's temporary folder is removed once it is this old


def is_complete(folder: Path, record_name: str, record: str, marker: str) -> bool:
    """``folder/record_name`` holds exactly ``record`` and ``folder/marker`` exists."""
    try:
        found = (folder / record_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return found == record and (folder / marker).is_file()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: the process exists, owned by someone else
        return True
    return True


def _remove_stale(base: Path, name: str) -> None:
    """Remove leftovers of killed runs: temporary folders of dead processes, an hour old."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    for entry in base.glob(f".{name}.*-*-*"):  # .NAME.tmp-PID-XXXX and .NAME.old-PID-XXXX
        with contextlib.suppress(ValueError, IndexError, OSError):
            pid = int(entry.name[len(name) + 1 :].split("-")[1])
            if not _pid_alive(pid) and time.time() - entry.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(entry, ignore_errors=True)


def _publish(tmp: Path, final: Path, complete: Callable[[], bool]) -> None:
    """Rename the finished ``tmp`` to ``final``, replacing an incomplete ``final``."""
    with contextlib.suppress(OSError):
        os.rename(tmp, final)
        return
    if complete():  # a concurrent run got there first
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-{os.getpid()}-", dir=final.parent))
    try:
        with contextlib.suppress(FileNotFoundError):
            os.replace(final, aside / "stale")
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if not complete():
                raise DataError(
                    f"cannot move the finished folder to {final} ({exc.strerror}); "
                    f"remove {final} and try again"
                ) from None
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def build_once(
    final: Path, record_name: str, record: str, marker: str, build: Callable[[Path], object]
) -> Path:
    """Return ``final`` if complete (see :func:`is_complete`), else build it atomically.

    ``build(tmp)`` fills an empty temporary folder beside ``final``; it writes
    ``record`` to ``record_name`` and, last of all, ``marker``. The folder is then
    renamed to ``final``, replacing an incomplete one.
    """

    def complete() -> bool:
        return is_complete(final, record_name, record, marker)

    if complete():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(final.parent, final.name)
        prefix = f".{final.name}.tmp-{os.getpid()}-"
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    except OSError as exc:
        raise DataError(
            f"cannot write in the cache folder {final.parent} ({exc.strerror}); "
            f"set {CACHE_ENV} to a writable folder"
        ) from None
    try:
        build(tmp)
        _publish(tmp, final, complete)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
