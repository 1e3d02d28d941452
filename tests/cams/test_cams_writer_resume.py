"""Resume after a real SIGKILL, refusal of another export's store, and the writer's checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cams_helpers import image_ids, predictions, provenance, smooth_maps, write_store

from wsolkit.cams import CamBatch, CamStore, CamStoreError, CamStoreWriter

HERE = Path(__file__).parent

# Writes N rows of known content 8 at a time, sleeping between batches; resumable.
CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[4])
from cams_helpers import image_ids, provenance
from wsolkit.cams import CamBatch, CamStoreWriter

path, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ids = image_ids(n)

def row(i):
    return np.random.default_rng(i).normal(size=(28, 28)).astype(np.float32)

writer = CamStoreWriter.open_or_resume(
    path, ids=ids, labels=np.arange(n) % 1000, provenance=provenance(),
    map_shape=(28, 28), commit_interval=0)
print("start", writer.start, flush=True)
with writer:
    for a in range(writer.start, n, 8):
        b = min(a + 8, n)
        classes = np.arange(a, b)[:, None] + np.arange(5)
        writer.put(CamBatch(np.stack([row(i) for i in range(a, b)]), classes,
                            np.full((b - a, 5), 0.2, np.float32), image_ids=ids[a:b]))
        print("put", b, flush=True)
        time.sleep(pause)
"""


def expected_row(i: int) -> np.ndarray:
    return np.random.default_rng(i).normal(size=(28, 28)).astype(np.float32).astype(np.float16)


def run_child(path: Path, n: int, pause: float) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(n), str(pause), str(HERE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def check_rows(store: CamStore, stop: int) -> None:
    cams = store.cams(0, stop)
    classes = store.top5[0][:stop]
    for i in range(stop):
        assert np.array_equal(cams[i], expected_row(i)), f"row {i}"
        assert classes[i].tolist() == list(range(i, i + 5)), f"row {i}"


def test_resume_after_sigkill(tmp_path: Path) -> None:
    path, n = tmp_path / "killed.h5", 300
    child = run_child(path, n, pause=0.03)
    assert child.stdout is not None
    for line in child.stdout:  # kill mid-way, while rows are being written
        if line.startswith("put") and int(line.split()[1]) >= 120:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with CamStore.open(path) as store:  # the file opens; committed rows are valid
        done = len(store)
        assert 0 < done < n and not store.complete
        check_rows(store, done)

    again = run_child(path, n, pause=0)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert out.splitlines()[0] == f"start {done}"  # continues where the kill left it
    with CamStore.open(path) as store:
        assert store.complete and len(store) == n
        assert store.ids == image_ids(n)  # every id once, in order: no duplicates
        check_rows(store, n)


def test_resume_inside_a_chunk(tmp_path: Path) -> None:
    """Stopping after 30 rows (chunks of 20) and resuming rewrites the partial chunk intact."""
    n, cams = 90, smooth_maps(90, 28)
    classes, scores = predictions(n)
    args = dict(ids=image_ids(n), labels=np.arange(n), provenance=provenance(), map_shape=(28, 28))
    with CamStoreWriter.open_or_resume(tmp_path / "s.h5", **args) as writer:
        writer.put(CamBatch(cams[:30], classes[:30], scores[:30]))
    assert writer.rows_done == 30
    with CamStoreWriter.open_or_resume(tmp_path / "s.h5", **args) as writer:
        assert writer.start == 30 and writer.remaining_ids == image_ids(n)[30:]
        for a in range(30, n, 25):
            writer.put(CamBatch(cams[a : a + 25], classes[a : a + 25], scores[a : a + 25]))
    with CamStore.open(tmp_path / "s.h5") as store:
        assert store.complete
        assert np.array_equal(store.cams(), cams.astype(np.float16))
        assert np.array_equal(store.top5[0], classes)


def test_complete_store_resumes_with_nothing_to_do(tmp_path: Path) -> None:
    path, cams = tmp_path / "c.h5", smooth_maps(20, 14)
    write_store(path, cams)
    writer = write_store(path, cams)
    assert writer.complete and writer.start == 20 and writer.remaining_ids == []
    with (
        CamStoreWriter.open_or_resume(
            path,
            ids=image_ids(20),
            labels=np.arange(20),
            provenance=provenance(),
            map_shape=(14, 14),
        ) as again,
        pytest.raises(CamStoreError, match="more row"),
    ):
        again.put(CamBatch(cams[:1], *predictions(1)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provenance": provenance(checkpoint_sha256="b" * 64)}, "another checkpoint"),
        (
            {
                "provenance": provenance(
                    settings={"model": {"backbone": "vgg16"}, "optim": {"lr": 1}}
                )
            },
            r"other settings \(optim.lr: 0.004 -> 1\)",
        ),
        ({"provenance": provenance(split="val")}, "split 'test', not 'val'"),
        ({"dtype": "float32"}, "dtype float16, not float32"),
        ({"ids": image_ids(19) + ["other.jpg"]}, "row 19 is planned for"),
        ({"labels": np.arange(20) + 1}, "label of"),
    ],
)
def test_another_export_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    path, cams = tmp_path / "r.h5", smooth_maps(20, 14)
    write_store(path, cams, batch=7)
    with pytest.raises(CamStoreError, match=message) as info:
        write_store(path, cams, **change)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and "--overwrite" in text
    with CamStore.open(path) as store:  # the refused store is untouched
        assert store.complete and store.provenance.checkpoint_sha256 == "a" * 64


def test_overwrite_replaces_the_store(tmp_path: Path) -> None:
    path, cams = tmp_path / "o.h5", smooth_maps(20, 14)
    write_store(path, cams)
    write_store(path, -cams, provenance=provenance(checkpoint_sha256="c" * 64), overwrite=True)
    with CamStore.open(path) as store:
        assert store.provenance.checkpoint_sha256 == "c" * 64
        assert np.array_equal(store.cams(), (-cams).astype(np.float16))


def test_batches_that_do_not_fit_the_plan(tmp_path: Path) -> None:
    n, cams = 40, smooth_maps(40, 14)
    classes, scores = predictions(n)
    writer = CamStoreWriter.open_or_resume(
        tmp_path / "p.h5",
        ids=image_ids(n),
        labels=np.arange(n),
        provenance=provenance(),
        map_shape=(14, 14),
    )
    with writer:
        with pytest.raises(CamStoreError, match=r"shape \(4, 7, 7\)"):
            writer.put(CamBatch(np.zeros((4, 7, 7)), classes[:4], scores[:4]))
        with pytest.raises(CamStoreError, match="pass top5_classes"):
            writer.put(CamBatch(cams[:4]))
        with pytest.raises(CamStoreError, match="row 0 is planned for .* holds 'x.jpg'"):
            writer.put(CamBatch(cams[:1], classes[:1], scores[:1], image_ids=["x.jpg"]))
        with pytest.raises(CamStoreError, match="top5_classes"):
            writer.put(CamBatch(cams[:2], classes[:3], scores[:3]))
        writer.put(CamBatch(cams[:40], classes, scores))
        with pytest.raises(CamStoreError, match="1 more row"):
            writer.put(CamBatch(cams[:1], classes[:1], scores[:1]))


def test_float16_overflow_is_an_error_not_inf(tmp_path: Path) -> None:
    cams = smooth_maps(8, 14)
    cams[3, 2, 2] = 1e6
    with pytest.raises(CamStoreError, match="overflows float16.*dtype float32"):
        write_store(tmp_path / "f.h5", cams)
    with CamStore.open(tmp_path / "f.h5") as store:
        assert len(store) == 0  # nothing half-written is counted


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    base = dict(labels=np.arange(3), provenance=provenance(), map_shape=(7, 7))
    with pytest.raises(CamStoreError, match="duplicate"):
        CamStoreWriter.open_or_resume(tmp_path / "d.h5", ids=["a", "b", "a"], **base)
    with pytest.raises(CamStoreError, match="unknown provenance key"):
        CamStoreWriter.open_or_resume(
            tmp_path / "d.h5", ids=["a", "b", "c"], **{**base, "provenance": {"sha": "x"}}
        )
    with pytest.raises(CamStoreError, match="topk"):
        CamStoreWriter.open_or_resume(tmp_path / "d.h5", ids=["a", "b", "c"], topk=6, **base)
    assert not (tmp_path / "d.h5").exists()


HOLDER = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from cams_helpers import image_ids, provenance
from wsolkit.cams import CamStoreWriter

writer = CamStoreWriter.open_or_resume(
    sys.argv[1], ids=image_ids(10), labels=np.arange(10), provenance=provenance(),
    map_shape=(7, 7))
print("ready", flush=True)
time.sleep(30)
"""


def test_a_store_being_written_elsewhere_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "busy.h5"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(HERE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(CamStoreError, match="open for writing in another process"):
            CamStore.open(path)
        with pytest.raises(CamStoreError, match="open for writing in another process"):
            write_store(path, smooth_maps(10, 7))
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_in_one_process_is_refused(tmp_path: Path) -> None:
    args = dict(ids=image_ids(4), labels=np.arange(4), provenance=provenance(), map_shape=(7, 7))
    with (
        CamStoreWriter.open_or_resume(tmp_path / "w.h5", **args),
        pytest.raises(CamStoreError, match="another writer of this process"),
    ):
        CamStoreWriter.open_or_resume(tmp_path / "w.h5", **args)
