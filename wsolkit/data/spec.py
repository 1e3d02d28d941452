"""What a ``wsolkit.datasets`` entry point provides, and the prepared-dataset manifest.

A dataset plugin's entry point names a :class:`DatasetSpec`: the dataset's
defaults (classes, annotation kind, input sizes, normalization, evaluation
resolution, and the defaults it sets for method hyperparameters). The
converters behind ``wsolkit prepare`` are built into wsolkit; a dataset plugin
describes data prepared by them or a wsolevaluation-format metadata folder.

``wsolkit prepare`` writes a *prepared dataset folder*::

    OUT/dataset.yaml          the manifest below (written last: its presence marks completion)
    OUT/train/ OUT/val/ OUT/test/   metadata split folders (SPEC.md §1)

Image paths in the metadata are relative to the manifest's ``image_root``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wsolkit.errors import DataError
from wsolkit.io import atomic_write_text
from wsolkit.settings.models import IMAGENET_MEAN, IMAGENET_STD

MANIFEST = "dataset.yaml"
MANIFEST_FORMAT = "wsolkit-dataset/1"


@dataclass(frozen=True)
class DatasetSpec:
    """Defaults of one registered dataset."""

    name: str
    description: str
    annotation: Literal["boxes", "masks"]
    num_classes: int | None
    eval_size: int = 224
    resize_size: int = 256
    crop_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    norm_region: Literal["max", "target"] = "max"

    @property
    def method_defaults(self) -> dict[str, Any]:
        """Defaults this dataset sets for method hyperparameters of these names, where the
        method has one and the settings leave it unset: aligned EIL's ``norm_region`` is
        "max" on CUB and "target" on ImageNet (SPEC.md §4; the reference picks it by name)."""
        return {"norm_region": self.norm_region}

    def plugin_details(self) -> dict[str, Any]:
        """Shown by ``wsolkit list datasets --json``."""
        return {
            "annotation": self.annotation,
            "num_classes": self.num_classes,
            "eval_size": self.eval_size,
            "resize_size": self.resize_size,
            "crop_size": self.crop_size,
            "method_defaults": self.method_defaults,
        }


@dataclass
class SplitSummary:
    """Counts of one prepared split."""

    images: int
    classes: int
    boxes: int  # boxes, or instance masks for a mask dataset


@dataclass
class PrepareSummary:
    """What ``wsolkit prepare`` wrote (rendered as the summary table)."""

    dataset: str
    out_dir: Path
    annotation: Literal["boxes", "masks"]
    splits: dict[str, SplitSummary]
    notes: list[str] = field(default_factory=list)
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``wsolkit prepare … --json`` prints."""
        return {
            "dataset": self.dataset,
            "out_dir": str(self.out_dir),
            "annotation": self.annotation,
            "splits": {name: vars(split) for name, split in self.splits.items()},
            "notes": self.notes,
            "skipped": self.skipped,
        }


class DatasetManifest(BaseModel):
    """``dataset.yaml`` of a prepared dataset folder."""

    model_config = ConfigDict(extra="forbid")

    format: str = MANIFEST_FORMAT
    dataset: str = Field(description="Registered dataset name, or 'folder' for a custom one.")
    num_classes: int = Field(ge=1)
    class_names: list[str] = Field(default_factory=list)
    annotation: Literal["boxes", "masks"]
    image_root: str = Field(description="Folder the metadata's image paths are relative to.")
    mask_root: str | None = None
    eval_size: int | None = Field(None, ge=8, description="Evaluation resolution override.")
    splits: dict[str, int] = Field(default_factory=dict, description="Images per split.")
    created_by: str = ""
    notes: list[str] = Field(default_factory=list)

    def resolve(self, folder: Path, value: str | None) -> Path | None:
        """A manifest path, relative to the manifest's folder unless absolute."""
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (folder / path).resolve()


def write_manifest(folder: Path | str, manifest: DatasetManifest) -> None:
    """Write ``dataset.yaml`` atomically."""
    from wsolkit import __version__

    manifest = manifest.model_copy(update={"created_by": f"wsolkit {__version__}"})
    atomic_write_text(
        Path(folder) / MANIFEST, yaml.safe_dump(manifest.model_dump(mode="json"), sort_keys=False)
    )


def read_manifest(folder: Path | str) -> DatasetManifest:
    """Read ``dataset.yaml``; a missing or invalid one is a one-line error."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise DataError(
            f"{folder} is not a prepared dataset folder (no {MANIFEST}); run `wsolkit prepare` "
            "first, or pass a metadata folder with --set data.image_root=DIR"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        manifest = DatasetManifest.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()
        detail = first[1].strip() + ": " + first[2].strip() if len(first) > 2 else first[0]
        raise DataError(
            f"{path}: invalid manifest ({detail}); run `wsolkit prepare` again"
        ) from None
    if manifest.format != MANIFEST_FORMAT:
        raise DataError(
            f"{path}: manifest format '{manifest.format}' is not '{MANIFEST_FORMAT}'; "
            "upgrade wsolkit or prepare the dataset again"
        )
    return manifest
