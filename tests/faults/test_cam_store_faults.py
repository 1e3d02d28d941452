"""A CAM store on a full, size-limited or read-only disk: one line, rows kept, rerun goes on.

Each writer runs in a child process, so that a crash (h5py's SIGSEGV on a full
disk) would show as its exit status. Mechanism per test: ``tmpfs`` = a real
mounted tmpfs, filled so that the disk runs out (the writer's own free-space check
stops it first; with that check switched off, HDF5's write itself fails);
``rlimit`` = RLIMIT_FSIZE, so the kernel refuses HDF5's ``write()`` past N bytes
with EFBIG (no check of ours sees it coming: HDF5's failure path); ``simulated`` =
an ``OSError`` injected where neither can reach.
"""

from __future__ import annotations

import errno
from pathlib import Path

import h5py
import numpy as np
import pytest
from cams_helpers import image_ids, provenance
from fault_helpers import one_error_line, run_python

from wsolkit.cams import CamStore, CamStoreError, CamStoreWriter
from wsolkit.cams.identity import USERBLOCK_BYTES
from wsolkit.io import DiskWriteError

N = 240  # rows of 32x32 float32 random maps: about 1 MB, incompressible
HALF = 400_000  # free bytes (besides the reserve) or file-size limit that stops it mid-way

# Writes rows [start, N) of known content; argv: path, "hard" to switch our room check off.
WRITER = """
import numpy as np
from cams_helpers import image_ids, provenance
from wsolkit.cams import CamBatch, CamStoreWriter
import wsolkit.cams._worker as worker

path, n = sys.argv[1], int(sys.argv[2])
if sys.argv[3] == "hard":  # let HDF5 meet the full disk itself
    worker.check_room = lambda *args: None
writer = CamStoreWriter.open_or_resume(
    path, ids=image_ids(n), labels=np.arange(n) % 1000, provenance=provenance(),
    map_shape=(32, 32), resolution="full", dtype="float32", commit_interval=0)
print("start", writer.start, "restarted", repr(writer.restarted), flush=True)
with writer:
    for a in range(writer.start, n, 8):
        b = min(a + 8, n)
        maps = np.stack([np.random.default_rng(i).random((32, 32), np.float32)
                         for i in range(a, b)])
        classes = np.arange(a, b)[:, None] + np.arange(5)
        writer.put(CamBatch(maps, classes, np.full((b - a, 5), 0.2, np.float32),
                            image_ids=image_ids(n)[a:b]))
print("done", flush=True)
"""


def write(path: Path, mode: str = "soft", file_limit: int | None = None):  # noqa: ANN201
    return run_python(WRITER, str(path), str(N), mode, file_limit=file_limit)


def check_rows(path: Path) -> int:
    """The committed rows hold exactly what was written; returns their number."""
    with CamStore.open(path) as store:
        done = len(store)
        cams, classes = store.cams(), store.top5[0]
        for i in range(done):
            assert np.array_equal(cams[i], np.random.default_rng(i).random((32, 32), np.float32))
            assert classes[i].tolist() == list(range(i, i + 5))
        return done


def finish(path: Path, kept: int) -> None:
    """A rerun with room continues at ``kept`` (no --overwrite) and completes the store."""
    result = write(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"start {kept} restarted ''"
    assert check_rows(path) == N


def rows_kept(message: str) -> int:
    kept = int(message.split(" after ")[1].split(" of ")[0])
    assert f"run the same command again (it continues at row {kept})" in message
    return kept


def test_a_new_store_is_refused_before_writing_when_it_cannot_fit(tmpfs) -> None:
    """tmpfs: 100 kB free; the store and the writer's reserve need more."""
    tmpfs.fill(leave=100_000)
    path = tmpfs.path / "c.h5"
    message = one_error_line(write(path))
    assert message.startswith(f"cannot write CAM store {path}: no space left on the device (")
    assert message.endswith(" needed); free space and run the same command again")
    assert sorted(p.name for p in tmpfs.path.iterdir()) == [".filler"]  # nothing half-made
    tmpfs.free_space()
    finish(path, 0)


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_a_full_tmpfs_mid_export_keeps_the_committed_rows(tmpfs, mode: str) -> None:
    """tmpfs: "soft" = our room check stops before the disk is full; "hard" = HDF5's own
    write fails with ENOSPC (the file is frozen as a killed process would leave it)."""
    tmpfs.fill(leave=HALF + 256 * 1024)
    path = tmpfs.path / "c.h5"
    message = one_error_line(write(path, mode))
    assert message.startswith(f"cannot write CAM store {path}: no space left on the device after")
    kept = rows_kept(message)
    assert 0 < kept < N
    assert check_rows(path) == kept
    tmpfs.free_space()
    finish(path, kept)


def test_a_file_size_limit_mid_export_keeps_the_committed_rows(tmp_path: Path) -> None:
    """rlimit: HDF5's write() gets EFBIG past 400 kB, mid-export."""
    path = tmp_path / "c.h5"
    message = one_error_line(write(path, file_limit=HALF))
    assert message.startswith(f"cannot write CAM store {path}: file too large")
    kept = rows_kept(message)
    assert 0 < kept < N and check_rows(path) == kept
    finish(path, kept)


def test_a_file_size_limit_at_creation_leaves_nothing(tmp_path: Path) -> None:
    """rlimit: the new store's first bytes are already refused (EFBIG)."""
    path = tmp_path / "c.h5"
    message = one_error_line(write(path, file_limit=4096))
    assert message.startswith(f"cannot write CAM store {path}: file too large")
    assert list(tmp_path.iterdir()) == []
    finish(path, 0)


def test_resuming_on_a_read_only_tmpfs(tmpfs) -> None:
    """tmpfs remounted read-only: the partial store is refused for writing and left as it is."""
    tmpfs.fill(leave=HALF + 256 * 1024)
    path = tmpfs.path / "c.h5"
    kept = rows_kept(one_error_line(write(path)))
    tmpfs.free_space()
    tmpfs.read_only()
    before = path.read_bytes()
    message = one_error_line(write(path))
    assert message.startswith(f"cannot write CAM store {path}: read-only file system; ")
    assert path.read_bytes() == before and check_rows(path) == kept


def test_resuming_in_a_read_only_folder_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulated: EROFS from opening the store for writing."""
    path = tmp_path / "c.h5"
    args = {"ids": image_ids(4), "labels": np.arange(4), "provenance": provenance()}
    CamStoreWriter.open_or_resume(path, map_shape=(7, 7), **args).close()

    def refuse(name: object, mode: str = "r", **kwargs: object) -> h5py.File:
        if mode == "r":
            return h5py_file(name, mode, **kwargs)
        raise OSError(errno.EROFS, f"Unable to open file (errno = {errno.EROFS})")

    h5py_file = h5py.File
    monkeypatch.setattr(h5py, "File", refuse)
    with pytest.raises(DiskWriteError, match="read-only file system; make it writable"):
        CamStoreWriter.open_or_resume(path, map_shape=(7, 7), **args)


def _damage(path: Path) -> None:
    """Zero the HDF5 superblock (after the user block): the file no longer opens."""
    with open(path, "r+b") as fh:
        fh.seek(USERBLOCK_BYTES)
        fh.write(bytes(64))


def test_a_damaged_store_of_the_same_export_is_started_over(tmp_path: Path) -> None:
    """(no disk) What a rerun does when a store of this export cannot be opened at all."""
    path = tmp_path / "c.h5"
    write(path, file_limit=HALF)
    _damage(path)
    with pytest.raises(CamStoreError, match="not an HDF5 file"):
        CamStore.open(path)
    result = write(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("start 0 restarted 'not an HDF5 file")
    assert check_rows(path) == N


def test_a_damaged_store_of_another_export_is_refused(tmp_path: Path) -> None:
    """(no disk) Another export's (or an unknown) damaged file is never deleted."""
    path = tmp_path / "c.h5"
    other = {"ids": image_ids(N), "labels": np.arange(N) % 7, "provenance": provenance()}
    CamStoreWriter.open_or_resume(path, map_shape=(32, 32), **other).close()
    _damage(path)
    before = path.read_bytes()
    message = one_error_line(write(path))
    assert message == (
        f"{path}: not an HDF5 file (no HDF5 signature): it is damaged or not a CAM store; "
        "pass --overwrite to replace it, or write to another file"
    )
    assert path.read_bytes() == before
