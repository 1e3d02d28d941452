"""Where a run's data lives, resolved from :class:`~wsolkit.settings.DataSettings`.

``data.root`` is either

- a **prepared dataset folder** (``wsolkit prepare`` made it: ``dataset.yaml`` +
  split folders), whose manifest gives the image root, mask root, classes and
  evaluation size; ``ROOT/wsolkit`` (the default output of ``wsolkit prepare
  ROOT``) is found from ROOT too; or
- a **wsolevaluation metadata folder** (``metadata/CUB`` with ``train/ val/
  test/`` inside), with ``data.image_root`` naming the folder its image paths
  are relative to.

Settings given explicitly (``data.image_root``, ``data.mask_root``,
``data.num_classes``, ``data.eval_size``) override the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsolkit.data.metadata import IMAGE_IDS, SplitMetadata, read_split
from wsolkit.data.spec import MANIFEST, DatasetManifest, read_manifest
from wsolkit.errors import DataError
from wsolkit.settings.models import DataSettings

if TYPE_CHECKING:
    from wsolkit.data.dataset import WSOLDataset

PREPARED_SUBFOLDER = "wsolkit"
_SPLITS = ("train", "val", "test")


def _explicit(data: DataSettings, key: str) -> bool:
    return key in data.model_fields_set and getattr(data, key) is not None


def _is_metadata_root(folder: Path) -> bool:
    return any((folder / s / IMAGE_IDS).is_file() for s in _SPLITS)


def _missing_data_hint(root: Path) -> str:
    """What ``root`` looks like, for the error that says it holds no metadata."""
    if (root / "images.txt").is_file() and (root / "bounding_boxes.txt").is_file():
        return f"it looks like CUB_200_2011: run `wsolkit prepare cub {root}`"
    inner = sorted(d.name for d in root.iterdir() if d.is_dir() and _is_metadata_root(d))
    if inner:
        return f"it holds metadata folders {', '.join(inner)}: pass one, e.g. {root / inner[0]}"
    return (
        f"run `wsolkit prepare cub|imagenet|openimages|folder {root}` first (see "
        "`wsolkit prepare --help`), or pass a metadata folder with train/ val/ test/ inside"
    )


def _dataset_spec(name: str | None) -> Any:
    if name is None:
        return None
    from wsolkit import registry

    return registry.datasets.load(name)


@dataclass
class DataSource:
    """The resolved data of a run: where split folders, images and masks are, and class info."""

    root: Path
    image_root: Path
    mask_root: Path | None
    num_classes: int
    eval_size: int
    settings: DataSettings
    dataset: str | None = None
    class_names: list[str] = field(default_factory=list)
    manifest: DatasetManifest | None = None
    _cache: dict[str, SplitMetadata] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, data: DataSettings) -> DataSource:
        """Resolve ``data.root`` (see the module docstring); every problem is a one-line error."""
        if data.root is None:
            raise DataError(
                "data.root is not set; pass a prepared dataset folder (`wsolkit prepare ...`) "
                "or a metadata folder, e.g. --set data.root=~/data/CUB_200_2011/wsolkit"
            )
        root = Path(data.root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root {root}: folder not found")
        if (root / MANIFEST).is_file():
            return cls._prepared(root, data)
        if (root / PREPARED_SUBFOLDER / MANIFEST).is_file():
            return cls._prepared(root / PREPARED_SUBFOLDER, data)
        if _is_metadata_root(root):
            return cls._metadata(root, data)
        raise DataError(
            f"data.root {root} holds no prepared dataset ({MANIFEST}) and no metadata split "
            f"folders (train/{IMAGE_IDS}, ...); {_missing_data_hint(root)}"
        )

    @classmethod
    def _prepared(cls, folder: Path, data: DataSettings) -> DataSource:
        manifest = read_manifest(folder)
        if data.dataset is not None and manifest.dataset not in (data.dataset, "folder"):
            raise DataError(
                f"data.dataset is '{data.dataset}' but {folder / MANIFEST} was prepared from "
                f"'{manifest.dataset}'; fix data.dataset or data.root"
            )
        image_root = manifest.resolve(folder, manifest.image_root) or folder
        if _explicit(data, "image_root"):
            image_root = Path(data.image_root).expanduser()
        mask_root = (
            Path(data.mask_root).expanduser()
            if _explicit(data, "mask_root")
            else manifest.resolve(folder, manifest.mask_root) or image_root
        )
        if _explicit(data, "eval_size"):
            eval_size = data.eval_size
        else:
            eval_size = manifest.eval_size or data.eval_size
        return cls(
            root=folder,
            image_root=image_root,
            mask_root=mask_root,
            num_classes=data.num_classes
            if _explicit(data, "num_classes")
            else manifest.num_classes,
            eval_size=eval_size,
            settings=data,
            dataset=data.dataset or manifest.dataset,
            class_names=list(manifest.class_names),
            manifest=manifest,
        )

    @classmethod
    def _metadata(cls, root: Path, data: DataSettings) -> DataSource:
        if data.image_root is None:
            raise DataError(
                f"data.root {root} is a metadata folder: set data.image_root to the folder its "
                "image paths are relative to (e.g. --set data.image_root=dataset/CUB)"
            )
        image_root = Path(data.image_root).expanduser()
        if not image_root.is_dir():
            raise DataError(f"data.image_root {image_root}: folder not found")
        spec = _dataset_spec(data.dataset)
        eval_size = data.eval_size
        if not _explicit(data, "eval_size") and getattr(spec, "eval_size", None):
            eval_size = spec.eval_size
        num_classes = data.num_classes or getattr(spec, "num_classes", None)
        if not num_classes:  # infer from the training labels
            train = root / data.train_split
            labels = read_split(train).labels if (train / IMAGE_IDS).is_file() else {}
            if not labels:
                raise DataError(
                    f"{root}: cannot infer the number of classes without a {data.train_split}/ "
                    "split; set data.num_classes"
                )
            num_classes = max(labels.values()) + 1
        return cls(
            root=root,
            image_root=image_root,
            mask_root=Path(data.mask_root).expanduser() if data.mask_root else image_root,
            num_classes=num_classes,
            eval_size=eval_size,
            settings=data,
            dataset=data.dataset,
        )

    @property
    def splits(self) -> list[str]:
        """Split folders present under :attr:`root`."""
        return sorted(
            d.name for d in self.root.iterdir() if d.is_dir() and (d / IMAGE_IDS).is_file()
        )

    def is_evaluation(self, name: str) -> bool:
        """Val and test splits (per the settings) must localize every image."""
        return name in (self.settings.val_split, self.settings.test_split)

    def split(self, name: str) -> SplitMetadata:
        """The validated metadata of split ``name`` (labels < num_classes; localization
        required for evaluation splits); read once, then cached."""
        if name not in self._cache:
            folder = self.root / name
            if not (folder / IMAGE_IDS).is_file():
                found = ", ".join(self.splits) or "none"
                raise DataError(
                    f"{self.root}: no '{name}' split (found: {found}); choose another with "
                    "data.train_split / data.val_split / data.test_split, or prepare the "
                    "dataset with that split"
                )
            self._cache[name] = read_split(
                folder,
                num_classes=self.num_classes,
                require_localization=self.is_evaluation(name),
            )
        return self._cache[name]

    def fingerprint(self, name: str) -> str:
        """SHA-256 over split ``name``'s metadata files (names and bytes, in name order):
        the same digest means the same images, labels, sizes and annotations."""
        import hashlib

        digest = hashlib.sha256()
        folder = self.root / name
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix == ".txt" and not file.name.startswith("."):
                digest.update(file.name.encode() + b"\0")
                digest.update(file.read_bytes())
                digest.update(b"\0")
        return digest.hexdigest()

    def torch_dataset(
        self,
        name: str,
        *,
        train: bool | None = None,
        transform: Any = None,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> WSOLDataset:
        """A :class:`~wsolkit.data.dataset.WSOLDataset` of split ``name``.

        ``train`` (default: ``name == data.train_split``) picks the training
        transform and, with ``data.use_proxy``, the proxy ids; ``transform``
        overrides the transform; ``exclude`` leaves images out (unreadable ones).
        """
        from wsolkit.data.dataset import WSOLDataset
        from wsolkit.data.transforms import eval_transform, train_transform

        data = self.settings
        train = name == data.train_split if train is None else train
        meta = self.split(name)
        if transform is None:
            transform = train_transform(data) if train else eval_transform(data, self.eval_size)
        ids = None
        if train and data.use_proxy:
            if meta.proxy_ids is None:
                raise DataError(
                    f"data.use_proxy is set but {self.root / name / 'image_ids_proxy.txt'} does "
                    "not exist; unset data.use_proxy or add the file"
                )
            ids = meta.proxy_ids
        if exclude:
            ids = [i for i in (meta.image_ids if ids is None else ids) if i not in exclude]
        return WSOLDataset(
            meta,
            self.image_root,
            transform,
            ids=ids,
            skip_bad_images=data.skip_bad_images,
            cache_images=data.cache_images,
        )
