"""``wsolkit export-cams`` on a full or size-limited disk, and interrupted: one line, then resume.

Runs a real (tiny) trained model. Mechanism per test: ``tmpfs`` = a real mounted
tmpfs, filled; ``rlimit`` = a child under RLIMIT_FSIZE (HDF5's write() gets EFBIG);
Ctrl-C is a ``KeyboardInterrupt`` raised in the producer, where SIGINT lands.
The failing command runs in a child process, so a crash would show as its status.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from fault_helpers import one_error_line, run_child
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cams import CamStore, CamStoreWriter
from wsolkit.cli import app

runner = CliRunner()
TEST_IMAGES = 200
FULL = ["--checkpoint", "last", "--resolution", "full", "--dtype", "float32"]  # ~700 kB


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wsolkit.data.prepare.synthetic import prepare_synthetic
    from wsolkit.engine.api import train

    root = tmp_path_factory.mktemp("export-faults")
    prepare_synthetic(
        root / "data", seed=1, train=32, val=16, test=TEST_IMAGES, image_size=32, classes=4
    )
    overrides = tiny_overrides(root / "data", root / "runs", **{"eval.cam_curve_interval": 0.001})
    assert train(overrides=overrides) is not None
    return root / "runs" / "r"


def rows_kept(message: str, out: Path, cause: str) -> int:
    """The rows the message says are kept, checked against the store."""
    assert message.startswith(f"cannot write CAM store {out}: {cause}")
    kept = int(message.split(" after ")[1].split(" of ")[0])
    assert f"run the same command again (it continues at row {kept})" in message
    assert 0 <= kept < TEST_IMAGES
    with CamStore.open(out) as store:
        assert len(store) == kept and store.total == TEST_IMAGES
    return kept


def rerun_continues(run: Path, out: Path, kept: int) -> None:
    result = runner.invoke(app, ["export-cams", str(run), *FULL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    resumed = f"resumed at image {kept}, " if kept else ""
    assert f"{TEST_IMAGES} images ({resumed}{TEST_IMAGES - kept} this run" in result.output
    with CamStore.open(out) as store:
        assert store.complete


def test_a_full_tmpfs(run: Path, tmpfs) -> None:
    """tmpfs: about 300 kB free besides the writer's reserve; the store needs 700 kB."""
    out = tmpfs.path / "cams.h5"
    tmpfs.fill(leave=300_000 + 256 * 1024)
    failed = run_child(["-m", "wsolkit", "export-cams", str(run), *FULL, "--out", str(out)])
    kept = rows_kept(one_error_line(failed), out, "no space left on the device after")
    assert kept > 0  # stopped before the disk was full: everything written is committed
    tmpfs.free_space()
    rerun_continues(run, out, kept)


def test_a_nearly_full_tmpfs_refuses_a_new_store(run: Path, tmpfs) -> None:
    """tmpfs: 150 kB free is not even the new store plus the reserve; nothing is created."""
    out = tmpfs.path / "cams.h5"
    tmpfs.fill(leave=150_000)
    failed = run_child(["-m", "wsolkit", "export-cams", str(run), *FULL, "--out", str(out)])
    message = one_error_line(failed)
    assert message.startswith(f"cannot write CAM store {out}: no space left on the device (")
    assert message.endswith("needed); free space and run the same command again")
    assert not out.exists()


def test_a_file_size_limit(run: Path, tmp_path: Path) -> None:
    """rlimit: every write past 300 kB of a file fails with EFBIG, inside HDF5. The rows
    committed before (every 2 s: perhaps none in so short a run) are kept."""
    out = tmp_path / "cams.h5"
    args = ["-m", "wsolkit", "export-cams", str(run), *FULL, "--out", str(out)]
    failed = run_child(args, file_limit=300_000)
    kept = rows_kept(one_error_line(failed), out, "file too large")
    rerun_continues(run, out, kept)


def test_ctrl_c_says_how_to_continue(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after two batches: the rows received are kept; the printed command resumes."""
    out = tmp_path / "cams.h5"
    put = CamStoreWriter.put
    calls = 0

    def interrupted_put(self: CamStoreWriter, batch: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        put(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(CamStoreWriter, "put", interrupted_put)
    args = ["export-cams", str(run), *FULL, "--out", str(out), "--batch-size", "10"]
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 130, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    continued = ["export-cams", str(run), "--out", str(out), *FULL, "--batch-size", "10"]
    command = shlex.join(["wsolkit", *continued])  # the options given, without --overwrite
    assert lines[0] == (
        f"Error: interrupted; {out} keeps 20 of {TEST_IMAGES} rows. Continue with: {command}"
    )
    monkeypatch.setattr(CamStoreWriter, "put", put)
    again = runner.invoke(app, shlex.split(command)[1:])
    assert again.exit_code == 0, again.output
    assert f"resumed at image 20, {TEST_IMAGES - 20} this run" in again.output


@pytest.mark.parametrize("count", ["-3", "0"])
def test_overlays_need_a_positive_count(tmp_path: Path, count: str) -> None:
    """(no disk) A usage error (exit 2) naming the value, before anything runs."""
    folder = tmp_path / "ov"
    result = runner.invoke(app, ["export-cams", str(tmp_path), "--overlays", count, str(folder)])
    assert result.exit_code == 2, result.output
    assert f"--overlays {count} {folder}: the number of overlays must be 1 or more" in (
        result.output
    )
    assert not folder.exists()
