"""Fixtures of the disk-fault tests: a real small file system, or a kernel-enforced size limit.

Two mechanisms, and every test says which it uses:

- ``tmpfs``: a real tmpfs mounted in ``tmp_path`` (root on Linux; skipped, with the
  reason, where ``mount`` is refused). ``fill(leave=N)`` leaves N bytes free, so the
  disk really runs out; ``read_only()`` remounts it read-only.
- ``fault_helpers.run_child(..., file_limit=N)``: a child process under ``RLIMIT_FSIZE`` with SIGXFSZ ignored, so the
  kernel refuses every write past N bytes of a file with EFBIG — inside HDF5,
  ``torch.save`` or NumPy, like a full disk. It needs no privileges and always runs
  (POSIX). Writers see the failure as a real C-level ``write()`` error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The CAM-store tests here reuse tests/cams/cams_helpers.py (image ids, provenance).
_CAMS_TESTS = str(Path(__file__).parents[1] / "cams")
if _CAMS_TESTS not in sys.path:
    sys.path.append(_CAMS_TESTS)


class Tmpfs:
    """A mounted tmpfs: ``path``, ``fill(leave)``, ``free_space()``, ``read_only()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / ".filler"

    def free(self) -> int:
        """Bytes free now."""
        return shutil.disk_usage(self.path).free

    def fill(self, leave: int) -> None:
        """Write a filler file so that about ``leave`` bytes stay free (tmpfs counts pages)."""
        with open(self._filler, "ab") as fh:
            fh.write(bytes(max(0, self.free() - leave)))

    def free_space(self) -> None:
        """Remove the filler: the space comes back."""
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        """Remount read-only (skips the test where remounting is refused)."""
        done = _mount(["-o", "remount,ro", str(self.path)])
        if done.returncode != 0:
            pytest.skip(f"cannot remount the tmpfs read-only ({done.stderr.strip()})")

    def writable(self) -> None:
        """Remount read-write."""
        _mount(["-o", "remount,rw", str(self.path)])


def _mount(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A real 2 MiB tmpfs at ``tmp_path/mnt``, unmounted after the test (skipped if refused)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real tmpfs needs root on Linux; the RLIMIT_FSIZE tests cover these paths")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    done = _mount(["-t", "tmpfs", "-o", "size=2m,mode=0777", "tmpfs", str(mount_point)])
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
            "the RLIMIT_FSIZE tests cover these paths"
        )
    try:
        yield Tmpfs(mount_point)
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)
