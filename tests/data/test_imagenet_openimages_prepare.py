"""``prepare_imagenet`` and ``prepare_openimages`` on tiny trees in the real layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_trees import IMAGENET_WNIDS, make_imagenet, make_imagenetv2, make_openimages, write_voc

from wsolkit.data.metadata import read_split
from wsolkit.data.prepare.imagenet import IMAGENET, prepare_imagenet
from wsolkit.data.prepare.openimages import OPENIMAGES, prepare_openimages
from wsolkit.data.spec import read_manifest
from wsolkit.errors import DataError, MetadataError

TEST_LOCALIZATION = [
    "val/ILSVRC2012_val_00000001.JPEG,11,10,44,19",
    "val/ILSVRC2012_val_00000002.JPEG,4,4,49,16",
    "val/ILSVRC2012_val_00000002.JPEG,2,6,43,20",
    "val/ILSVRC2012_val_00000003.JPEG,3,1,38,37",
    "val/ILSVRC2012_val_00000004.JPEG,0,0,30,30",  # xmax 31 clipped to the 30-px image
]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.parametrize("layout", ["flat", "kaggle"])
def test_imagenet_train_and_test(tmp_path: Path, layout: str) -> None:
    root = make_imagenet(tmp_path / "ILSVRC", layout)
    val_boxes = root / "val_boxes" if layout == "flat" else None
    summary = prepare_imagenet(root, val_boxes=val_boxes)
    out = root / "wsolkit"
    assert _lines(out / "train" / "class_labels.txt")[:3] == [
        f"train/{IMAGENET_WNIDS[0]}/{IMAGENET_WNIDS[0]}_10.JPEG,0",
        f"train/{IMAGENET_WNIDS[0]}/{IMAGENET_WNIDS[0]}_11.JPEG,0",
        f"train/{IMAGENET_WNIDS[1]}/{IMAGENET_WNIDS[1]}_10.JPEG,1",
    ]
    assert not (out / "train" / "localization.txt").exists()
    assert _lines(out / "test" / "localization.txt") == TEST_LOCALIZATION
    assert _lines(out / "test" / "class_labels.txt") == [
        "val/ILSVRC2012_val_00000001.JPEG,2",
        "val/ILSVRC2012_val_00000002.JPEG,0",
        "val/ILSVRC2012_val_00000003.JPEG,1",
        "val/ILSVRC2012_val_00000004.JPEG,0",
    ]
    assert set(summary.splits) == {"train", "test"}
    assert any(n.startswith("no val split: ImageNetV2 not given") for n in summary.notes)
    assert any("1 XML boxes reached past the image border" in n for n in summary.notes)
    manifest = read_manifest(out)
    assert manifest.class_names == IMAGENET_WNIDS
    assert (
        manifest.resolve(out, manifest.image_root)
        == (root / "Data" / "CLS-LOC" if layout == "kaggle" else root).resolve()
    )


def test_imagenet_val_in_class_folders(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC", "classes")
    prepare_imagenet(root)
    labels = _lines(root / "wsolkit" / "test" / "class_labels.txt")
    assert labels[0] == f"val/{IMAGENET_WNIDS[2]}/ILSVRC2012_val_00000001.JPEG,2"  # by file name
    assert len(labels) == 4


def test_imagenetv2_val_split(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    make_imagenetv2(root / "val2")
    summary = prepare_imagenet(root, val_boxes=root / "val_boxes", imagenetv2=root / "val2")
    val = read_split(root / "wsolkit" / "val", num_classes=3, require_localization=True)
    assert val.image_ids[:2] == ["val2/0/0.jpeg", "val2/0/1.jpeg"]
    assert val.labels["val2/2/1.jpeg"] == 2
    assert val.boxes["val2/2/1.jpeg"] == [(1, 2, 21, 15), (0, 0, 5, 5)]
    assert summary.splits["val"].boxes == 7
    # A wsolevaluation metadata/ILSVRC/val/localization.txt (ids val2/...) works too.
    loc = tmp_path / "localization.txt"
    loc.write_text("val2/1/0.jpeg,156,163,318,230\n")
    with pytest.raises(DataError, match=rf"{loc}:1: box \(156,163,318,230\) lies outside"):
        prepare_imagenet(
            root,
            val_boxes=root / "val_boxes",
            imagenetv2=root / "val2",
            imagenetv2_boxes=loc,
            overwrite=True,
        )
    loc.write_text("val2/7/0.jpeg,1,1,5,5\n")
    with pytest.raises(MetadataError, match=r"localization.txt:1: 'val2/7/0.jpeg' is not <class"):
        prepare_imagenet(
            root,
            val_boxes=root / "val_boxes",
            imagenetv2=root / "val2",
            imagenetv2_boxes=loc,
            overwrite=True,
        )


def test_imagenet_errors(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "ILSVRC")
    with pytest.raises(DataError, match="no Pascal-VOC XML boxes found .* --val-boxes DIR"):
        prepare_imagenet(root)
    xml = root / "val_boxes" / "val" / "ILSVRC2012_val_00000003.xml"
    write_voc(xml, (40, 50), [("n01443537", (3, 1, 38, 37)), ("n01440764", (1, 1, 4, 4))])
    with pytest.raises(DataError, match=rf"{xml}: objects of 2 classes"):
        prepare_imagenet(root, val_boxes=root / "val_boxes")
    write_voc(xml, (40, 50), [("n99999999", (3, 1, 38, 37))])
    with pytest.raises(DataError, match="class 'n99999999' is not a train/ folder"):
        prepare_imagenet(root, val_boxes=root / "val_boxes")
    xml.unlink()
    with pytest.raises(DataError, match="1 val image\\(s\\) have no XML box file"):
        prepare_imagenet(root, val_boxes=root / "val_boxes")
    with pytest.raises(DataError, match="no train/ and val/ folders"):
        prepare_imagenet(tmp_path)


def test_openimages_masks(tmp_path: Path) -> None:
    root = make_openimages(tmp_path / "OpenImages")
    summary = prepare_openimages(root)
    out = root / "wsolkit"
    assert _lines(out / "val" / "localization.txt") == [
        "val/01226z/va00aa.jpg,val/01226z/va00aa_m01226z_00000000.png,val/01226z/va00aa_ignore.png",
        "val/01226z/va01aa.jpg,val/01226z/va01aa_m01226z_00000000.png,val/01226z/va01aa_ignore.png",
        "val/01226z/va01aa.jpg,val/01226z/va01aa_m01226z_00000001.png,",
        "val/0bt_c3/va10aa.jpg,val/0bt_c3/va10aa_m0bt_c3_00000000.png,val/0bt_c3/va10aa_ignore.png",
        "val/0bt_c3/va11aa.jpg,val/0bt_c3/va11aa_m0bt_c3_00000000.png,val/0bt_c3/va11aa_ignore.png",
        "val/0bt_c3/va11aa.jpg,val/0bt_c3/va11aa_m0bt_c3_00000001.png,",
    ]
    assert _lines(out / "train" / "class_labels.txt") == [
        "train/01226z/tr00aa.jpg,0",
        "train/01226z/tr01aa.jpg,0",
        "train/0bt_c3/tr10aa.jpg,1",
        "train/0bt_c3/tr11aa.jpg,1",
    ]
    assert not (out / "train" / "localization.txt").exists()
    test = read_split(out / "test", num_classes=2, require_localization=True)
    assert test.annotation == "masks" and test.num_boxes() == 6
    manifest = read_manifest(out)
    assert manifest.annotation == "masks" and manifest.mask_root == ".."
    assert summary.splits["val"].boxes == 6


def test_openimages_missing_masks(tmp_path: Path) -> None:
    root = make_openimages(tmp_path / "OpenImages")
    (root / "test" / "0bt_c3" / "te10aa_m0bt_c3_00000000.png").unlink()
    with pytest.raises(
        DataError, match=r"te10aa.jpg: no instance mask \(te10aa_m0bt_c3_<hash>.png\)"
    ):
        prepare_openimages(root)
    with pytest.raises(DataError, match="OpenImages train folder not found"):
        prepare_openimages(tmp_path)


def test_specs() -> None:
    assert IMAGENET.num_classes == 1000 and IMAGENET.norm_region == "target"
    assert OPENIMAGES.num_classes == 100 and OPENIMAGES.annotation == "masks"
