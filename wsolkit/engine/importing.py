"""``import_checkpoint()``: a checkpoint of the field's reference code → a wsolkit checkpoint.

The file is read with ``torch.load(weights_only=True)`` (never run), its format
recognised or checked, its weights renamed onto wsolkit's model of the given
backbone and method (:mod:`wsolkit.checkpoints`), loaded into that model with
``strict=True`` as a last check, and written atomically as a wsolkit checkpoint
(the format training writes) whose ``imported_from`` entry records the source
format, the file's SHA-256, the mapping applied and the notes. Its settings are
the source code's preprocessing (ImageNet mean/std, resize to 224) and the
canonical protocol; the dataset is recorded when ``data`` names one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsolkit.errors import DataError, UsageError


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_checkpoint` wrote, and from what."""

    out: Path
    format: str
    detected: str | None  # why ``--from auto`` chose the format; None when it was given
    backbone: str
    method: str
    large_feature_map: bool
    num_classes: int
    mapping: str
    notes: tuple[str, ...]
    confirmed: tuple[str, ...]
    sha256: str
    dataset: str | None = None
    data: Path | None = None
    records: dict[str, Any] = field(default_factory=dict)


def import_checkpoint(
    src: Path,
    *,
    source_format: str = "auto",
    backbone: str,
    method: str,
    large_feature_map: bool = False,
    num_classes: int | None = None,
    dataset: str | None = None,
    data: Path | None = None,
    out: Path,
    overwrite: bool = False,
) -> ImportResult:
    """Convert ``src`` and write it to ``out`` (nothing is written when anything is refused)."""
    from wsolkit.checkpoints import FORMATS, convert, detect, read_source
    from wsolkit.engine.checkpoint import Checkpoint, DatasetInfo, load_torch_file, save_checkpoint
    from wsolkit.engine.export import sha256_of

    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    if out.resolve() == src.resolve():
        raise UsageError(f"--out {out} is the source file; write the import elsewhere")
    container = load_torch_file(src)
    origin = str(src)
    detected = None
    if source_format == "auto":
        source_format, detected = detect(container, origin=origin)
    elif source_format not in FORMATS:
        raise UsageError(f"--from {source_format}: use auto or one of {', '.join(sorted(FORMATS))}")
    source = read_source(container, source_format, origin=origin)
    converted = convert(
        source,
        backbone=backbone,
        method=method,
        large_feature_map=large_feature_map,
        num_classes=num_classes,
        origin=origin,
    )
    settings, class_names = _settings(converted, dataset, data)
    _check_loads(settings, converted)
    epoch = source.records.get("epoch")
    checkpoint = Checkpoint(
        settings=settings.model_dump(mode="json"),
        epoch=epoch if isinstance(epoch, int) else 0,
        model=converted.state_dict,
        dataset=DatasetInfo(converted.num_classes, class_names),
        imported_from={
            "format": converted.format,
            "file": str(src.resolve()),
            "sha256": sha256_of(src),
            "layout": converted.layout.label(),
            "mapping": converted.mapping,
            "notes": list(converted.notes),
            "records": {k: v for k, v in source.records.items() if isinstance(v, (int, str))},
        },
    )
    save_checkpoint(out, checkpoint, what="imported checkpoint")
    return ImportResult(
        out=out,
        format=converted.format,
        detected=detected,
        backbone=converted.backbone,
        method=converted.method,
        large_feature_map=converted.large_feature_map,
        num_classes=converted.num_classes,
        mapping=converted.mapping,
        notes=converted.notes,
        confirmed=converted.confirmed,
        sha256=checkpoint.imported_from["sha256"],  # type: ignore[index]
        dataset=settings.data.dataset,
        data=settings.data.root,
        records=dict(source.records),
    )


def _settings(converted: Any, dataset: str | None, data: Path | None) -> tuple[Any, list[str]]:
    """The imported model's settings: the source code's preprocessing, the canonical
    protocol, and the dataset when given (its class count must match the weights)."""
    from wsolkit.engine.setup import finish_dataset_settings
    from wsolkit.settings import Settings

    settings = Settings.model_validate(
        {
            "data": {"dataset": dataset, "root": data},
            "model": {
                "backbone": converted.backbone,
                "weights": "none",
                "large_feature_map": converted.large_feature_map,
            },
            "method": {"name": converted.method},
        }
    )
    if data is None:
        return finish_dataset_settings(settings), []
    from wsolkit.data.source import DataSource

    settings = finish_dataset_settings(settings)
    source = DataSource.from_settings(settings.data)
    if source.num_classes != converted.num_classes:
        raise DataError(
            f"--data {data} has {source.num_classes} classes but the weights classify "
            f"{converted.num_classes}; pass the dataset the model was trained on"
        )
    return settings, list(source.class_names)


def _check_loads(settings: Any, converted: Any) -> None:
    """Build wsolkit's model and load the weights strictly (the converter promises it)."""
    from wsolkit.engine.build import build_model

    built = build_model(settings, converted.num_classes, weights="none")
    built.model.load_state_dict(converted.state_dict, strict=True)
