"""``prepare_cub(masks=...)``: CUB test masks for PxAP and pIoU, from both layouts users have."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fake_trees import cub_test_images, make_cub, write_cub_masks, write_image
from PIL import Image
from typer.testing import CliRunner

from wsolkit.data.metadata import MASK_LOCALIZATION, MaskAnnotation, read_split
from wsolkit.data.prepare.cub import prepare_cub
from wsolkit.data.prepare.cub_masks import cub_mask_path
from wsolkit.data.source import DataSource
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError
from wsolkit.metrics.pxap import ground_truth_mask
from wsolkit.metrics.split import SplitEvaluation
from wsolkit.settings.models import DataSettings
from wsolkit.settings.protocol import EvalProtocol

CANONICAL = "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"
SECOND = "001.Black_footed_Albatross/Black_footed_Albatross_0004.jpg"  # 56x38, test


@pytest.fixture(scope="module")
def cub_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_cub(tmp_path_factory.mktemp("cubmasks") / "CUB_200_2011")
    write_cub_masks(root, root / "segmentations")
    write_cub_masks(root, root.parent / "CUBMask", cubmask=True)
    return root


@pytest.fixture
def cub(tmp_path: Path, cub_template: Path) -> Path:
    shutil.copytree(cub_template.parent, tmp_path, dirs_exist_ok=True)
    return tmp_path / "CUB_200_2011"


def _png(path: Path) -> str:
    return str(Path(path).with_suffix(".png"))


def test_segmentations_folder_gives_test_masks_beside_boxes(cub: Path) -> None:
    summary = prepare_cub(cub, masks=cub / "segmentations", val_per_class=1)
    out = cub / "wsolkit"
    test = read_split(out / "test", num_classes=3, require_localization=True)
    assert test.image_ids == cub_test_images(cub)
    assert test.masks == {i: MaskAnnotation([_png(i)], None) for i in test.image_ids}
    assert test.boxes[CANONICAL] == [(60, 27, 385, 331)]  # the boxes stay
    lines = (out / "test" / MASK_LOCALIZATION).read_text().splitlines()
    assert lines[0] == f"{CANONICAL},{_png(CANONICAL)},"
    for split in ("train", "val"):
        assert not (out / split / MASK_LOCALIZATION).exists()
        assert read_split(out / split).masks is None
    manifest = read_manifest(out)
    assert manifest.mask_root == "../segmentations"  # relative: the tree can move
    assert manifest.annotation == "boxes"
    note = next(n for n in summary.notes if "masks below" in n)
    assert f"test: 6 masks below {cub / 'segmentations'}" in note
    assert "PxAP and pIoU" in note and "non-zero" in note
    assert manifest.notes == summary.notes


def test_cubmask_folder_as_distributed(cub: Path) -> None:
    cubmask = cub.parent / "CUBMask"
    assert (cubmask / "imgs").is_dir() and (cubmask / "masks").is_dir()
    prepare_cub(cub, masks=cubmask, val_per_class=0)
    out = cub / "wsolkit"
    manifest = read_manifest(out)
    assert manifest.resolve(out, manifest.mask_root) == (cubmask / "masks").resolve()
    assert Path(manifest.mask_root).is_absolute()  # outside ROOT: stored absolute
    test = read_split(out / "test")
    assert test.masks[SECOND].mask_paths == [_png(SECOND)]


def test_prefixed_ids_keep_mask_paths_below_the_class_folders(cub: Path) -> None:
    # CUBV2 outside ROOT/images prefixes every image id; the masks stay <class>/<image>.png.
    cubv2 = cub.parent / "CUBV2"
    write_image(cubv2 / "002.Laysan_Albatross" / "1.jpg", (40, 30))
    (cubv2 / "localization.txt").write_text("002.Laysan_Albatross/1.jpg,1,1,20,20\n")
    prepare_cub(cub, cubv2=cubv2, masks=cub / "segmentations")
    out = cub / "wsolkit"
    lines = (out / "test" / MASK_LOCALIZATION).read_text().splitlines()
    assert lines[0] == f"CUB_200_2011/images/{CANONICAL},{_png(CANONICAL)},"
    assert read_manifest(out).mask_root == "../segmentations"
    assert not (out / "val" / MASK_LOCALIZATION).exists()


def test_a_prepared_folder_tells_runs_where_the_masks_are(cub: Path) -> None:
    prepare_cub(cub, masks=cub / "segmentations", val_per_class=1)
    source = DataSource.from_settings(DataSettings(root=cub))
    assert source.mask_root == (cub / "segmentations").resolve()
    fields = {
        split: set(SplitEvaluation(source.split(split), mask_root=source.mask_root).members)
        for split in ("val", "test")
    }
    assert fields == {"val": {"classification", "box"}, "test": {"classification", "box", "mask"}}


def test_without_masks_nothing_changes(cub: Path) -> None:
    prepare_cub(cub, val_per_class=1)
    assert read_manifest(cub / "wsolkit").mask_root is None
    assert not (cub / "wsolkit" / "test" / MASK_LOCALIZATION).exists()


def _column_mask(path: Path, values: list[int]) -> None:
    """A mask of the image's size in 8 vertical bands: column x takes ``values[x * 8 // w]``.

    Nearest resizing to 8×8 (OpenCV reads column ``floor(j * w / 8)``) gives band j
    to column j, so the mask at evaluation size 8 is known exactly.
    """
    with Image.open(path) as image:
        width, height = image.size
    band = (np.arange(width) * 8) // width
    row = np.asarray(values, dtype=np.uint8)[band]
    Image.fromarray(np.tile(row, (height, 1)), mode="L").save(path)


def _maps(values: list[float]) -> np.ndarray:
    return np.tile(np.asarray(values, dtype=np.float64), (8, 1))


def test_soft_values_are_foreground_and_pxap_piou_match_a_hand_count(cub: Path) -> None:
    masks = cub / "segmentations"
    _column_mask(masks / _png(CANONICAL), [255, 255, 255, 255, 0, 0, 0, 0])
    _column_mask(masks / _png(SECOND), [128, 128, 127, 127, 1, 1, 0, 0])  # soft grey levels
    prepare_cub(cub, masks=masks, val_per_class=0)
    source = DataSource.from_settings(DataSettings(root=cub / "wsolkit"))
    test = source.split("test").subset([CANONICAL, SECOND])
    protocol = EvalProtocol(eval_size=8, cam_curve_interval=0.25)

    # The binarization rule: every non-zero grey level is foreground, 0 is background.
    second = test.masks[SECOND]
    foreground, ignore = ground_truth_mask(source.mask_root, second.mask_paths, None, 8)
    assert foreground[:, :6].all() and not foreground[:, 6:].any() and not ignore.any()

    evaluation = SplitEvaluation(test, protocol, mask_root=source.mask_root)
    evaluation.accumulate(
        [_maps([1, 1, 0.6, 0.6, 0.6, 0.6, 0, 0]), _maps([1, 1, 1, 1, 0.6, 0.6, 0.6, 0.6])],
        [CANONICAL, SECOND],
    )
    mask = evaluation.compute().mask
    # 8 pixels per column. Foreground: 48 pixels at 1.0 (16 + 32), 32 at 0.6 (16 + 16);
    # background: 32 at 0.6 (16 + 16), 16 at 0.0.
    # PxAP: recall 0.6 at precision 1 (scores 1.0), then recall 1 at precision 80/112:
    # 0.6 * 1 + 0.4 * 80/112 = 31/35.
    assert mask.pxap == pytest.approx(100 * 31 / 35)
    # pIoU over tau in {0, .25, .5, .75}: 80/128, 80/112, 80/112, 48/80 -> 80/112 = 5/7.
    assert mask.piou == pytest.approx(100 * 5 / 7)
    assert mask.piou_threshold == 0.25
    # Were 127 and 1 background (a "> 127" rule), the second image would count 16
    # foreground pixels, not 48, and PxAP would differ.
    assert mask.images == 2


def test_a_missing_mask_is_one_line_naming_image_and_mask(cub: Path) -> None:
    masks = cub / "segmentations"
    (masks / _png(SECOND)).unlink()
    (masks / _png(cub_test_images(cub)[-1])).unlink()
    with pytest.raises(DataError) as info:
        prepare_cub(cub, masks=masks)
    message = str(info.value)
    assert message.startswith(f"{cub / 'images' / SECOND}: no mask at {masks / _png(SECOND)} ")
    assert "(and 1 more test images without one)" in message and "\n" not in message
    assert not (cub / "wsolkit").exists()


def test_a_mask_folder_without_class_folders_says_what_to_pass(cub: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="has no folder '001.Black_footed_Albatross': pass the"):
        prepare_cub(cub, masks=empty)
    with pytest.raises(DataError, match=r"nowhere: CUB mask folder not found; pass the"):
        prepare_cub(cub, masks=tmp_path / "nowhere")


def test_a_mask_of_another_size_names_both_sizes(cub: Path) -> None:
    masks = cub / "segmentations"
    Image.new("L", (38, 56), 255).save(masks / _png(SECOND))  # transposed
    with pytest.raises(DataError) as info:
        prepare_cub(cub, masks=masks)
    assert str(info.value) == (
        f"{masks / _png(SECOND)}: the mask is 38x56 but its image {cub / 'images' / SECOND} is "
        "56x38; a mask must have its image's size"
    )
    assert not (cub / "wsolkit").exists()


def test_an_unreadable_mask_is_named(cub: Path) -> None:
    masks = cub / "segmentations"
    (masks / _png(SECOND)).write_bytes(b"not a png")
    with pytest.raises(DataError, match=rf"{masks / _png(SECOND)}: cannot read .* mask of"):
        prepare_cub(cub, masks=masks, skip_bad_images=True)  # masks are never skipped


@pytest.mark.parametrize(
    "image_path", ["../outside/x.jpg", "/etc/x.jpg", "a\\..\\x.jpg", "001.A/../../x.jpg"]
)
def test_mask_paths_never_leave_the_mask_root(image_path: str) -> None:
    with pytest.raises(DataError, match="masks must stay below the mask folder"):
        cub_mask_path(image_path)
    assert cub_mask_path("001.A/b.c.jpg") == "001.A/b.c.png"


def test_cli_prepare_cub_masks(cub: Path) -> None:
    from wsolkit.cli import app

    result = CliRunner().invoke(
        app, ["prepare", "cub", str(cub), "--masks", str(cub / "segmentations")]
    )
    assert result.exit_code == 0, result.output
    assert "6 masks below" in " ".join(result.output.split())
    assert read_manifest(cub / "wsolkit").mask_root == "../segmentations"
