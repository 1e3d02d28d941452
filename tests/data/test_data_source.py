"""``DataSource.from_settings``: prepared folders, wsolevaluation metadata folders, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_trees import make_cub

from wsolkit.data.metadata import SplitMetadata, write_split
from wsolkit.data.prepare.cub import prepare_cub
from wsolkit.data.source import DataSource
from wsolkit.data.spec import read_manifest, write_manifest
from wsolkit.errors import DataError, MetadataError
from wsolkit.settings.models import DataSettings


@pytest.fixture(scope="module")
def prepared_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_cub(tmp_path_factory.mktemp("src") / "CUB_200_2011")
    prepare_cub(root, val_per_class=1)
    return root


@pytest.fixture
def cub(tmp_path: Path, prepared_template: Path) -> Path:
    root = tmp_path / "CUB_200_2011"
    shutil.copytree(prepared_template, root)
    return root


def test_prepared_folder(cub: Path) -> None:
    source = DataSource.from_settings(DataSettings(root=cub / "wsolkit"))
    assert source.image_root == (cub / "images").resolve()
    assert source.num_classes == 3 and source.eval_size == 224 and source.dataset == "cub"
    assert source.class_names[0] == "001.Black_footed_Albatross"
    assert source.splits == ["test", "train", "val"]
    test = source.split("test")
    assert test.annotation == "boxes" and len(test) == 6
    assert source.split("test") is test  # cached
    train = source.torch_dataset("train")
    assert train[0][0].shape == (3, 224, 224)
    image, label, image_id = source.torch_dataset("test")[0]
    assert image.shape == (3, 224, 224) and label == 0 and image_id.endswith("_0046_18.jpg")


def test_dataset_root_finds_its_prepared_subfolder(cub: Path) -> None:
    source = DataSource.from_settings(DataSettings(root=cub))
    assert source.root == cub / "wsolkit"


def test_manifest_eval_size_unless_set_explicitly(cub: Path) -> None:
    out = cub / "wsolkit"
    write_manifest(out, read_manifest(out).model_copy(update={"eval_size": 64}))
    assert DataSource.from_settings(DataSettings(root=out)).eval_size == 64
    assert DataSource.from_settings(DataSettings(root=out, eval_size=96)).eval_size == 96
    source = DataSource.from_settings(DataSettings(root=out))
    assert source.torch_dataset("val")[0][0].shape == (3, 64, 64)


def test_explicit_image_root_and_num_classes_override(cub: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(cub / "images", moved)
    source = DataSource.from_settings(
        DataSettings(root=cub / "wsolkit", image_root=moved, num_classes=5)
    )
    assert source.image_root == moved and source.num_classes == 5


def test_dataset_name_mismatch(cub: Path) -> None:
    with pytest.raises(DataError, match="data.dataset is 'imagenet' but .* prepared from 'cub'"):
        DataSource.from_settings(DataSettings(root=cub / "wsolkit", dataset="imagenet"))


def test_missing_split_lists_the_present_ones(cub: Path) -> None:
    source = DataSource.from_settings(DataSettings(root=cub / "wsolkit", val_split="val2"))
    with pytest.raises(DataError, match=r"no 'val2' split \(found: test, train, val\)"):
        source.split("val2")


def test_use_proxy(cub: Path) -> None:
    data = DataSettings(root=cub / "wsolkit", use_proxy=True)
    with pytest.raises(DataError, match="data.use_proxy is set but .*image_ids_proxy.txt"):
        DataSource.from_settings(data).torch_dataset("train")
    first = (cub / "wsolkit" / "train" / "image_ids.txt").read_text().splitlines()[0]
    (cub / "wsolkit" / "train" / "image_ids_proxy.txt").write_text(first + "\n")
    assert len(DataSource.from_settings(data).torch_dataset("train")) == 1


def _metadata_folder(folder: Path, test_boxes: bool = True, label: int = 1) -> Path:
    ids = ["001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"]
    for split in ("train", "val", "test"):
        write_split(
            folder / split,
            SplitMetadata(
                ids,
                {ids[0]: label if split == "test" else 1},
                {ids[0]: (500, 335)},
                {ids[0]: [(60, 27, 385, 331)]} if test_boxes or split != "test" else None,
            ),
        )
    return folder


def test_plain_metadata_folder_needs_image_root(cub: Path, tmp_path: Path) -> None:
    meta = _metadata_folder(tmp_path / "metadata" / "CUB")
    with pytest.raises(DataError, match="is a metadata folder: set data.image_root"):
        DataSource.from_settings(DataSettings(root=meta))
    source = DataSource.from_settings(DataSettings(root=meta, image_root=cub / "images"))
    assert source.num_classes == 2  # inferred: max train label + 1
    assert source.manifest is None and source.mask_root == cub / "images"
    assert source.torch_dataset("test")[0][1] == 1
    named = DataSource.from_settings(
        DataSettings(root=meta, image_root=cub / "images", dataset="cub")
    )
    assert named.num_classes == 200


def test_plain_metadata_labels_are_bounded(cub: Path, tmp_path: Path) -> None:
    meta = _metadata_folder(tmp_path / "m", label=7)
    source = DataSource.from_settings(DataSettings(root=meta, image_root=cub / "images"))
    with pytest.raises(
        MetadataError, match=r"class_labels.txt:1: label 7 is out of range \(0..1\)"
    ):
        source.split("test")


def test_evaluation_split_requires_localization(cub: Path, tmp_path: Path) -> None:
    meta = _metadata_folder(tmp_path / "m", test_boxes=False)
    source = DataSource.from_settings(DataSettings(root=meta, image_root=cub / "images"))
    with pytest.raises(MetadataError, match="this split needs boxes or masks"):
        source.split("test")


def test_folder_without_metadata_says_how_to_fix(cub: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.root is not set"):
        DataSource.from_settings(DataSettings())
    with pytest.raises(DataError, match="folder not found"):
        DataSource.from_settings(DataSettings(root=tmp_path / "nope"))
    shutil.rmtree(cub / "wsolkit")
    with pytest.raises(
        DataError, match=f"looks like CUB_200_2011: run `wsolkit prepare cub {cub}`"
    ):
        DataSource.from_settings(DataSettings(root=cub))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="holds no prepared dataset .* run `wsolkit prepare"):
        DataSource.from_settings(DataSettings(root=tmp_path / "plain"))
    parent = tmp_path / "metadata"
    _metadata_folder(parent / "CUB")
    with pytest.raises(DataError, match="holds metadata folders CUB: pass one"):
        DataSource.from_settings(DataSettings(root=parent))


def test_broken_manifest(cub: Path) -> None:
    (cub / "wsolkit" / "dataset.yaml").write_text("num_classes: zero\n")
    with pytest.raises(DataError, match="invalid manifest"):
        DataSource.from_settings(DataSettings(root=cub / "wsolkit"))
