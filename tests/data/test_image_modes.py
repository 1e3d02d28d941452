"""Images that are not 8-bit RGB, and images too large to decode: real files, one per case.

The rules are those of :mod:`wsolkit.data.images`: 16-bit and 32-bit integer gray
scaled by ``round(v * 255 / 65535)``, float gray in [0, 1] by ``round(v * 255)``,
alpha dropped (the stored colour kept), CMYK by PIL's formula, a decompression
bomb refused in one line (skippable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fake_trees import write_huge_png
from PIL import Image

from wsolkit.data.dataset import BadImage, WSOLDataset, load_rgb
from wsolkit.data.images import ImageReadError, image_size
from wsolkit.data.metadata import SplitMetadata


def _pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    assert image.mode == "RGB"
    return [image.getpixel((x, 0)) for x in range(image.width)]


def _gray(values: list[int]) -> list[tuple[int, int, int]]:
    return [(v, v, v) for v in values]


SIXTEEN = [0, 128, 129, 257, 32768, 65534, 65535]
# round(v * 255 / 65535) = round(v / 257): 128/257 = 0.498 -> 0, 129/257 = 0.502 -> 1
SIXTEEN_8 = [0, 0, 1, 1, 128, 255, 255]


def test_16bit_png_is_scaled_by_the_full_16bit_range(tmp_path: Path) -> None:
    path = tmp_path / "gray16.png"
    Image.fromarray(np.array([SIXTEEN], dtype=np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"  # a real 16-bit PNG
    assert _pixels(load_rgb(path)) == _gray(SIXTEEN_8)
    assert Image.open(path).convert("RGB").getpixel((4, 0)) == (255, 255, 255)  # what PIL does


def test_16bit_big_endian_tiff(tmp_path: Path) -> None:
    path = tmp_path / "gray16b.tif"
    raw = np.array([SIXTEEN], dtype=">u2").tobytes()
    Image.frombytes("I;16B", (len(SIXTEEN), 1), raw).save(path)
    assert Image.open(path).mode == "I;16B"
    assert _pixels(load_rgb(path)) == _gray(SIXTEEN_8)


def test_32bit_integer_tiff_in_the_16bit_range(tmp_path: Path) -> None:
    path = tmp_path / "gray32.tif"
    Image.fromarray(np.array([SIXTEEN], dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    assert _pixels(load_rgb(path)) == _gray(SIXTEEN_8)


@pytest.mark.parametrize("value", [-1, 65536])
def test_32bit_integer_outside_16bits_is_refused(tmp_path: Path, value: int) -> None:
    path = tmp_path / "wide.tif"
    Image.fromarray(np.array([[0, value]], dtype=np.int32)).save(path)
    with pytest.raises(ImageReadError) as info:
        load_rgb(path)
    message = str(info.value)
    assert message.startswith(f"{path}: I image with values ")
    assert "outside the 16-bit range 0..65535 that wsolkit scales to 8 bits; save it as 8- or " in (
        message
    )
    assert message.endswith(
        "16-bit, or set data.skip_bad_images (--skip-bad-images) to skip unreadable images"
    )
    assert "\n" not in message


def test_float_tiff_in_0_1_is_scaled_by_255(tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    values = [0.0, 0.2, 0.5, 0.999, 1.0]
    Image.fromarray(np.array([values], dtype=np.float32)).save(path)
    assert Image.open(path).mode == "F"
    # 0.2 * 255 = 51.0000008 -> 51; 0.5 * 255 = 127.5 -> 128 (halves up); 0.999 -> 254.7 -> 255
    assert _pixels(load_rgb(path)) == _gray([0, 51, 128, 255, 255])


@pytest.mark.parametrize("bad", [1.5, float("nan"), float("inf")])
def test_float_outside_0_1_or_nan_is_refused(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.25, bad]], dtype=np.float32)).save(path)
    with pytest.raises(ImageReadError, match="floating-point image with values 0.25") as info:
        load_rgb(path)
    assert str(info.value).startswith(f"{path}: ") and "outside [0, 1]" in str(info.value)


def test_palette_with_transparency_keeps_the_palette_colour(tmp_path: Path, recwarn) -> None:
    path = tmp_path / "palette.png"
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 200, 100, 50, 1, 2, 3] + [0] * 759)
    image.putdata([0, 1, 2])
    image.save(path, transparency=bytes([0, 128, 255]))  # index 0 transparent, 1 half
    assert isinstance(Image.open(path).info["transparency"], bytes)
    assert _pixels(load_rgb(path)) == [(10, 20, 30), (200, 100, 50), (1, 2, 3)]
    assert not [w for w in recwarn if "Transparency" in str(w.message)]  # no PIL warning


def test_palette_gif_with_one_transparent_index(tmp_path: Path) -> None:
    path = tmp_path / "palette.gif"
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putdata([0, 1])
    image.save(path, transparency=1)
    assert _pixels(load_rgb(path)) == [(10, 20, 30), (200, 100, 50)]


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    path = tmp_path / "rgba.png"
    Image.new("RGBA", (1, 1), (1, 2, 3, 0)).save(path)
    assert _pixels(load_rgb(path)) == [(1, 2, 3)]  # fully transparent: the stored colour stays


def test_gray_alpha_drops_alpha(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (1, 1), (100, 7)).save(path)
    assert Image.open(path).mode == "LA"
    assert _pixels(load_rgb(path)) == [(100, 100, 100)]


def test_cmyk_jpeg_uses_pils_formula(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (10, 20, 30, 40)).save(path, quality=100)
    assert Image.open(path).mode == "CMYK"
    # R = round((255 - C) * (255 - K) / 255): 215 * 245 / 255 = 206.6 -> 207, then 198, 190
    assert load_rgb(path).getpixel((3, 3)) == (207, 198, 190)


def test_bilevel_png(tmp_path: Path) -> None:
    path = tmp_path / "bits.png"
    image = Image.new("1", (2, 1))
    image.putdata([0, 255])
    image.save(path)
    assert _pixels(load_rgb(path)) == [(0, 0, 0), (255, 255, 255)]


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 14000 x 14000 = 196,000,000 pixels: over 2 x PIL's default MAX_IMAGE_PIXELS (89,478,485).
    return write_huge_png(tmp_path_factory.mktemp("bomb") / "huge.png", 14000, 14000)


def test_decompression_bomb_is_one_line_in_load_rgb(huge_png: Path) -> None:
    assert Image.MAX_IMAGE_PIXELS == 89478485
    with pytest.raises(ImageReadError) as info:
        load_rgb(huge_png)
    message = str(info.value)
    assert message == (
        f"{huge_png}: image too large to decode safely: 196,000,000 pixels, over PIL's "
        "decompression-bomb limit of 178,956,970 (2 × Image.MAX_IMAGE_PIXELS); downscale it "
        "(wsolkit resizes images to a few hundred pixels anyway), or set data.skip_bad_images "
        "(--skip-bad-images) to skip unreadable images"
    )


def test_decompression_bomb_is_one_line_in_header_reads(huge_png: Path) -> None:
    with pytest.raises(ImageReadError) as info:
        image_size(huge_png)
    assert str(info.value).startswith(f"{huge_png}: image too large to decode safely: 196,000,000")
    assert str(info.value).endswith("or pass --skip-bad-images to leave it out")


def test_decompression_bomb_is_skipped_by_the_dataset(huge_png: Path) -> None:
    Image.new("RGB", (4, 4), (9, 9, 9)).save(huge_png.parent / "fine.png")
    ids = ["fine.png", "huge.png"]
    meta = SplitMetadata(ids, dict.fromkeys(ids, 0), {})
    dataset = WSOLDataset(meta, huge_png.parent, None, skip_bad_images=True)
    assert dataset[0][2] == "fine.png"
    bad = dataset[1]
    assert isinstance(bad, BadImage) and bad.image_id == "huge.png"
    assert bad.reason.startswith(f"{huge_png}: image too large to decode safely")
    with pytest.raises(ImageReadError, match="too large to decode safely"):
        WSOLDataset(meta, huge_png.parent, None)[1]


def test_below_twice_the_limit_pil_only_warns_and_the_image_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A low limit stands in for 90-179 Mpx images (too slow to decode in a test).
    path = tmp_path / "big.png"
    Image.new("RGB", (30, 20), (5, 6, 7)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # 600 px: over the limit, under twice
    with pytest.warns(Image.DecompressionBombWarning):
        assert load_rgb(path).getpixel((0, 0)) == (5, 6, 7)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 600 px: over twice -> refused
    with pytest.raises(
        ImageReadError, match="600 pixels, over PIL's decompression-bomb limit of 400"
    ):
        image_size(path)
