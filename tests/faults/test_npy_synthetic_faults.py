"""``cams export-npy`` and ``prepare synthetic`` on full, size-limited or read-only disks.

Mechanism per test: ``tmpfs`` = a real mounted tmpfs (filled, or remounted
read-only); ``rlimit`` = a child under RLIMIT_FSIZE, so NumPy's and PNG writes past
N bytes fail with EFBIG in the kernel; ``simulated`` = an ``OSError`` injected in
Python where neither can reach (a read-only folder without mount rights).
"""

from __future__ import annotations

import errno
import shlex
from pathlib import Path

import numpy as np
import pytest
from cams_helpers import image_ids, provenance
from fault_helpers import one_error_line, run_child
from typer.testing import CliRunner

from wsolkit.cams import CamBatch, CamStoreWriter
from wsolkit.cli import app

runner = CliRunner()
MAPS = 40  # 32x32 score maps: 8.3 kB per .npy file


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "full.h5"
    ids = image_ids(MAPS)
    writer = CamStoreWriter.open_or_resume(
        path,
        ids=ids,
        labels=np.arange(MAPS),
        provenance=provenance(eval_size=32),
        map_shape=(32, 32),
        resolution="full",
        predictions=False,
    )
    with writer:
        maps = np.random.default_rng(0).random((MAPS, 32, 32), np.float32)
        writer.put(CamBatch(maps, image_ids=ids))
    return path


def failed_line(result) -> str:  # noqa: ANN001
    """The one ``Error:`` line of an in-process CLI run that failed with exit code 1."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0][len("Error: ") :]


# ------------------------------------------------------------------ export-npy
def test_export_npy_into_a_regular_file(store: Path, tmp_path: Path) -> None:
    """(no disk) OUT_DIR is an existing file: one line, nothing written."""
    target = tmp_path / "some-file"
    target.write_text("keep me")
    message = failed_line(runner.invoke(app, ["cams", "export-npy", str(store), str(target)]))
    assert message == (
        f"{target} exists and is not a folder; give a folder for the .npy files "
        "(it is created if missing)"
    )
    assert target.read_text() == "keep me"


def test_export_npy_on_a_full_tmpfs(store: Path, tmpfs) -> None:
    """tmpfs: room for about 10 of the 40 files."""
    out = tmpfs.path / "maps"
    tmpfs.fill(leave=100_000)
    message = failed_line(runner.invoke(app, ["cams", "export-npy", str(store), str(out)]))
    assert message.startswith(f"cannot write score map {out}/val/ILSVRC2012_val_")
    assert ": no space left on the device (" in message
    assert message.endswith(f" of {MAPS} files written); free space and try again")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # no temp file left
    tmpfs.free_space()
    again = runner.invoke(app, ["cams", "export-npy", str(store), str(out)])
    assert again.exit_code == 0 and len(list(out.rglob("*.npy"))) == MAPS


def test_export_npy_past_a_file_size_limit(store: Path, tmp_path: Path) -> None:
    """rlimit: each .npy is 8.3 kB; writes past 4 kB get EFBIG inside NumPy's write."""
    out = tmp_path / "maps"
    failed = run_child(
        ["-m", "wsolkit", "cams", "export-npy", str(store), str(out)], file_limit=4096
    )
    message = one_error_line(failed)
    assert message.startswith(f"cannot write score map {out}/val/ILSVRC2012_val_")
    assert ": file too large" in message and f"(0 of {MAPS} files written)" in message
    assert not list(out.rglob("*.npy")) and not list(out.rglob("*.tmp"))


def test_export_npy_on_a_read_only_tmpfs(store: Path, tmpfs) -> None:
    """tmpfs remounted read-only."""
    tmpfs.read_only()
    message = failed_line(runner.invoke(app, ["cams", "export-npy", str(store), str(tmpfs.path)]))
    assert ": read-only file system" in message and message.startswith("cannot write score map")


def test_export_npy_into_a_read_only_folder_simulated(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulated: EROFS from creating each temp file."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("wsolkit.io.tempfile.mkstemp", refuse)
    message = failed_line(runner.invoke(app, ["cams", "export-npy", str(store), str(tmp_path)]))
    assert ": read-only file system (0 of 40 files written); write to a writable folder" in message


# ------------------------------------------------------------------ prepare synthetic
SMALL = ["--train", "40", "--val", "4", "--test", "4", "--image-size", "64"]


def prepare(out: Path, *extra: str):  # noqa: ANN201
    return runner.invoke(app, ["prepare", "synthetic", str(out), *SMALL, *extra])


def test_prepare_synthetic_on_a_full_tmpfs(tmpfs) -> None:
    """tmpfs: about 40 kB free; the dataset needs more. The same command then starts over."""
    out = tmpfs.path / "synthetic"
    tmpfs.fill(leave=40_000)
    message = failed_line(prepare(out))
    assert message == (
        f"cannot write synthetic dataset {out}: no space left on the device; "
        "free space and try again"
    )
    tmpfs.free_space()
    again = prepare(out)  # no --overwrite: the unfinished folder is this command's own
    assert again.exit_code == 0, again.output
    assert (out / "dataset.yaml").is_file()


def test_prepare_synthetic_past_a_file_size_limit(tmp_path: Path) -> None:
    """rlimit: a 64 px PNG is larger than 1000 bytes: EFBIG on the first image."""
    out = tmp_path / "synthetic"
    failed = run_child(["-m", "wsolkit", "prepare", "synthetic", str(out), *SMALL], file_limit=1000)
    message = one_error_line(failed)
    assert message.startswith(f"cannot write synthetic dataset {out}: file too large")
    again = prepare(out)
    assert again.exit_code == 0, again.output


def test_prepare_synthetic_on_a_read_only_tmpfs(tmpfs) -> None:
    """tmpfs remounted read-only."""
    tmpfs.read_only()
    message = failed_line(prepare(tmpfs.path / "synthetic"))
    assert message.startswith(f"cannot write synthetic dataset {tmpfs.path}/synthetic: ")
    assert "read-only file system" in message


def test_prepare_synthetic_into_a_read_only_folder_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulated: EROFS from creating params.json's temp file."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("wsolkit.io.tempfile.mkstemp", refuse)
    out = tmp_path / "synthetic"
    message = failed_line(prepare(out))
    assert message.startswith(f"cannot write {out}/params.json: read-only file system; ")


def test_prepare_synthetic_ctrl_c_says_how_to_continue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after 5 images: exit 130 and the command that continues (no manual cleanup)."""
    import wsolkit.data.prepare.synthetic_draw as draw

    render, calls = draw.render_sample, 0

    def interrupted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise KeyboardInterrupt
        return render(*args, **kwargs)

    monkeypatch.setattr(draw, "render_sample", interrupted)
    out = tmp_path / "synthetic"
    result = prepare(out, "--seed", "3")
    assert result.exit_code == 130, result.output
    command = shlex.join(["wsolkit", "prepare", "synthetic", str(out), "--seed", "3", *SMALL[:6]])
    assert result.output.strip().splitlines() == [
        f"Error: interrupted; {out} holds an unfinished dataset (no dataset.yaml). Continue "
        f"with: {command} (it generates the dataset again from the start)"
    ]
    monkeypatch.setattr(draw, "render_sample", render)
    again = runner.invoke(app, shlex.split(command)[1:])
    assert again.exit_code == 0, again.output
    assert (out / "dataset.yaml").is_file()
