"""``check_images``: every image's header is opened before training; bad ones are returned."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from wsolkit.data.check import check_images
from wsolkit.data.dataset import BadImage, ImageReadError, load_rgb
from wsolkit.data.metadata import SplitMetadata


def _split(ids: list[str]) -> SplitMetadata:
    return SplitMetadata(ids, dict.fromkeys(ids, 0), {})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    for k in range(5):
        Image.new("RGB", (10 + k, 8), (k, 2, 3)).save(tmp_path / "a" / f"ok{k}.jpg")
    noise = Image.effect_noise((64, 64), 80).convert("RGB")
    noise.save(tmp_path / "a" / "noise.jpg", quality=95)
    good = (tmp_path / "a" / "noise.jpg").read_bytes()
    (tmp_path / "a" / "garbage.jpg").write_bytes(b"not an image at all")
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    (tmp_path / "a" / "header_only.jpg").write_bytes(good[: len(good) // 2])  # header reads
    return tmp_path


def test_good_images_give_nothing_and_progress_reaches_the_total(root: Path) -> None:
    ids = [f"a/ok{k}.jpg" for k in range(5)]
    calls: list[tuple[int, int]] = []
    assert check_images(_split(ids), root, progress=lambda d, t: calls.append((d, t))) == []
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_bad_images_in_metadata_order_with_one_line_reasons(root: Path) -> None:
    ids = ["a/ok0.jpg", "a/garbage.jpg", "a/missing.jpg", "a/ok1.jpg", "a/empty.png"]
    bad = check_images(_split(ids), root, workers=3)
    assert [b.image_id for b in bad] == ["a/garbage.jpg", "a/missing.jpg", "a/empty.png"]
    assert all(isinstance(b, BadImage) for b in bad)
    assert bad[0].path == str(root / "a" / "garbage.jpg")
    assert bad[0].reason.startswith(f"{root / 'a' / 'garbage.jpg'}: cannot read the image header")
    assert bad[1].reason == f"{root / 'a' / 'missing.jpg'}: image file not found"
    assert all("\n" not in b.reason and "--skip-bad-images" not in b.reason for b in bad)


def test_a_truncated_body_with_a_readable_header_passes(root: Path) -> None:
    # Only headers are read: the dataset reports the truncated pixels when it decodes them.
    assert check_images(_split(["a/header_only.jpg"]), root) == []
    with pytest.raises(ImageReadError, match="header_only.jpg: cannot read the image"):
        load_rgb(root / "a" / "header_only.jpg")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # ok0: over 50, not 100
def test_decompression_bomb_is_bad_not_raised(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # ok0: 10x8 = 80 <= 100 < ok4: 14x8
    (bad,) = check_images(_split(["a/ok0.jpg", "a/ok4.jpg"]), root)
    assert bad.image_id == "a/ok4.jpg" and "112 pixels" in bad.reason


def test_empty_split_and_many_workers(root: Path) -> None:
    assert check_images(_split([]), root, workers=64) == []
    ids = [f"a/ok{k % 5}.jpg" for k in range(300)] + ["a/garbage.jpg"]  # many chunks
    assert [b.image_id for b in check_images(_split(ids), root, workers=7)] == ["a/garbage.jpg"]
