"""Atomic writes and checkpoint saves on a full, size-limited or read-only file system.

Mechanism per test: ``tmpfs`` = a real mounted tmpfs (skipped where mounting is
refused); ``rlimit`` = a child under RLIMIT_FSIZE whose writes past the limit fail
with EFBIG in the kernel; ``simulated`` = an ``OSError`` injected in Python (only
where the other two cannot reach: a read-only disk without mount rights).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch
from fault_helpers import run_python

from wsolkit.engine.checkpoint import load_checkpoint, save_checkpoint
from wsolkit.io import DiskWriteError, atomic_write_bytes, write_guard


@pytest.mark.parametrize(
    ("number", "cause", "fix"),
    [
        (errno.ENOSPC, "no space left on the device", "free space and try again"),
        (errno.EDQUOT, "disk quota exceeded", "raise the quota"),
        (errno.EFBIG, "file too large", "ulimit -f"),
        (errno.EROFS, "read-only file system", "write to a writable folder"),
        (errno.EACCES, "permission denied", "fix its permissions"),
    ],
)
def test_messages_name_the_file_the_cause_and_the_fix(number: int, cause: str, fix: str) -> None:
    """(no disk) The message of each cause, as ``write_guard`` raises it."""
    with pytest.raises(DiskWriteError) as info, write_guard("/data/out.txt", "report"):
        raise OSError(number, os.strerror(number))
    message = str(info.value)
    assert message.startswith("cannot write report /data/out.txt: ") and "\n" not in message
    assert cause in message and fix in message
    assert info.value.exit_code == 1 and info.value.errno == number


def test_other_os_errors_pass_unchanged(tmp_path: Path) -> None:
    """(no disk) A missing file is not a disk failure."""
    with pytest.raises(FileNotFoundError), write_guard(tmp_path, "x"):
        (tmp_path / "missing" / "deeper").read_text()


def test_atomic_write_on_a_full_tmpfs_keeps_the_old_file(tmpfs) -> None:
    """tmpfs: 1 MB into 16 kB free."""
    path = tmpfs.path / "data.bin"
    atomic_write_bytes(path, b"old")
    tmpfs.fill(leave=16 * 1024)
    with pytest.raises(DiskWriteError, match="no space left on the device") as info:
        atomic_write_bytes(path, bytes(1_000_000))
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmpfs.path.iterdir()) == [".filler", "data.bin"]  # no temp


def test_atomic_write_past_the_file_size_limit_keeps_the_old_file(tmp_path: Path) -> None:
    """rlimit: the kernel refuses the write past 64 kB (EFBIG) inside Python's own write."""
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"old")
    code = """
    from wsolkit.io import atomic_write_bytes
    atomic_write_bytes(sys.argv[1], bytes(1_000_000))
    """
    result = run_python(code, str(path), file_limit=64 * 1024)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot write {path}: file too large")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def _payload(epoch: int, numbers: int) -> dict:
    return {"epoch": epoch, "model": {"weight": torch.arange(numbers, dtype=torch.float32)}}


def test_checkpoint_save_on_a_full_tmpfs(tmpfs) -> None:
    """tmpfs: ``torch.save`` fails with a RuntimeError of its own; the error is still one line."""
    path = tmpfs.path / "run" / "checkpoints" / "last.pt"
    save_checkpoint(path, _payload(1, 10))
    tmpfs.fill(leave=64 * 1024)
    with pytest.raises(DiskWriteError) as info:
        save_checkpoint(path, _payload(2, 1_000_000))
    message = str(info.value)
    assert message == (
        f"cannot write checkpoint {path}: no space left on the device; free space and try again"
    )
    assert load_checkpoint(path)["epoch"] == 1  # the previous checkpoint is intact
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_checkpoint_save_past_the_file_size_limit(tmp_path: Path) -> None:
    """rlimit: ``torch.save``'s own C++ writer gets EFBIG from the kernel."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1, 10))
    code = """
    import torch
    from wsolkit.engine.checkpoint import save_checkpoint
    save_checkpoint(sys.argv[1], {"epoch": 2, "model": {"w": torch.zeros(1_000_000)}})
    """
    result = run_python(code, str(path), file_limit=256 * 1024)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot write checkpoint {path}: file too large for its file system or the file-size "
        "limit (ulimit -f); write to another file system (or raise the limit) and try again"
    ]
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_checkpoint_save_on_a_read_only_tmpfs(tmpfs) -> None:
    """tmpfs remounted read-only."""
    path = tmpfs.path / "last.pt"
    save_checkpoint(path, _payload(1, 10))
    tmpfs.read_only()
    with pytest.raises(DiskWriteError, match="read-only file system; write to a writable"):
        save_checkpoint(path, _payload(2, 10))
    assert load_checkpoint(path)["epoch"] == 1


def test_checkpoint_save_refused_by_a_read_only_folder_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulated: EROFS from creating the temp file (root ignores chmod, so no real refusal)."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1, 10))

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".last.pt.x.tmp"))

    monkeypatch.setattr("wsolkit.io.tempfile.mkstemp", refuse)
    with pytest.raises(DiskWriteError) as info:
        save_checkpoint(path, _payload(2, 10))
    assert str(info.value).startswith(f"cannot write checkpoint {path}: read-only file system; ")
    assert load_checkpoint(path)["epoch"] == 1
