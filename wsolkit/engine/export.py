"""``export_cams()``: batched inference over a split into a CAM store (``wsolkit export-cams``).

The model runs in eval mode (AMP on CUDA when asked); a background thread in the
store writer compresses and writes, so the model never waits on disk. A killed,
interrupted (:class:`ExportInterrupted`) or disk-starved export
(:class:`~wsolkit.io.DiskWriteError`) resumes where it stopped; a store of
another checkpoint is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wsolkit.errors import DataError, UsageError, WsolkitError
from wsolkit.progress import Progress
from wsolkit.settings import Settings

CHUNK = 1 << 20


class ExportOptions(BaseModel):
    """What to export and how (validated: a bad value is a one-line error naming it).

    ``checkpoint``: which checkpoint of a run directory; ``data``: the prepared
    dataset to read (required for a checkpoint that records none, e.g. an imported
    one; else it overrides the recorded folder); ``resolution``: raw CAMs at
    feature-map size, or full eval-size score maps; ``dtype``: float16 (raw default)
    or float32; ``topk``: also store the CAMs of the top-k predicted classes; the
    runtime fields override the run's recorded ones. ``replace_stale`` is for
    wsolkit's own caches: a store of another export at ``out`` is replaced.
    ``extractor`` names the score-map extractor (``cam``: the method's own map;
    ``wsolkit list extractors``), ``stage`` the backbone stage it explains (default:
    the extractor's) and ``extractor_params`` its hyperparameters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: str = "test"
    out: Path | None = None
    checkpoint: Literal["best", "last"] = "best"
    data: Path | None = None
    resolution: Literal["raw", "full"] = "raw"
    dtype: Literal["float16", "float32"] | None = None
    topk: int = Field(0, ge=0, le=5)
    batch_size: int | None = Field(None, ge=1)
    device: str | None = None
    amp: Literal["off", "bf16", "fp16"] | None = None
    workers: int | None = Field(None, ge=0)
    overwrite: bool = False
    replace_stale: bool = False
    extractor: str = "cam"
    stage: str | None = None
    extractor_params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_flags(cls, **values: Any) -> ExportOptions:
        """Build from command-line values; an invalid one is a usage error naming its flag."""
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else "option"
            flag = "--" + name.replace("_", "-")
            message = error["msg"].removeprefix("Value error, ")
            raise UsageError(f"{flag} {error.get('input')!r}: {message}") from None


@dataclass
class ExportResult:
    """Where the store went and how fast it was written."""

    path: Path
    images: int
    written: int
    resumed_from: int
    seconds: float
    restarted: str = ""  # why a damaged store of this export was started over (else empty)

    @property
    def images_per_s(self) -> float:
        """Throughput of this invocation (images written / wall time)."""
        return self.written / max(self.seconds, 1e-9)


class ExportInterrupted(WsolkitError):
    """Ctrl-C during an export: the committed rows are kept; the message says how to continue.

    ``command`` is the command line that continues the export (the CLI fills it
    in); without it the message says to run the same export again.
    """

    exit_code = 130

    def __init__(
        self, path: Path | None, rows_done: int | None, total: int | None, command: str = ""
    ) -> None:
        self.path, self.rows_done, self.total = path, rows_done, total
        if path is None or rows_done is None:
            kept = "interrupted before any row was written"
        else:
            kept = f"interrupted; {path} keeps {rows_done} of {total} rows"
        how = f"Continue with: {command}" if command else "Run the same export again to continue"
        super().__init__(f"{kept}. {how}")

    def with_command(self, command: str) -> ExportInterrupted:
        """The same interruption, naming the command that continues it."""
        return ExportInterrupted(self.path, self.rows_done, self.total, command)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def resolve_checkpoint(target: Path, which: str) -> Path:
    """A checkpoint file, or ``RUN_DIR/checkpoints/<which>.pt`` (``last`` if no best)."""
    target = Path(target)
    if target.is_file():
        return target
    if not target.is_dir():
        raise DataError(f"{target}: no such run directory or checkpoint file")
    chosen = target / "checkpoints" / f"{which}.pt"
    if not chosen.is_file() and which == "best":
        chosen = target / "checkpoints" / "last.pt"
    if not chosen.is_file():
        raise DataError(f"{target}: no checkpoints/{which}.pt (is it a wsolkit run directory?)")
    return chosen


def export_cams(
    target: Path,
    options: ExportOptions,
    progress: Progress | None = None,
) -> ExportResult:
    """Compute the CAMs of one split from a checkpoint and write (or resume) the store.

    Ctrl-C commits the rows computed so far and raises :class:`ExportInterrupted`.
    """
    try:
        writer, start, seconds = _export(target, options, progress)
    except KeyboardInterrupt:  # before the store was open (after it: ExportInterrupted)
        raise ExportInterrupted(None, None, None) from None
    return ExportResult(
        writer.path, writer.total, writer.total - start, start, seconds, writer.restarted
    )


def _export(
    target: Path, options: ExportOptions, progress: Progress | None
) -> tuple[Any, int, float]:
    """Open the store and fill it; returns the closed writer, its start row and the seconds."""
    from wsolkit.cams import CamStoreWriter
    from wsolkit.engine.checkpoint import read_checkpoint
    from wsolkit.engine.device import make_precision, resolve_device

    checkpoint = resolve_checkpoint(target, options.checkpoint)
    payload = read_checkpoint(checkpoint)
    settings = checkpoint_settings(payload, options, checkpoint)
    device = resolve_device(settings.runtime.device)
    precision = make_precision(device, settings.runtime.amp)
    source, meta, dataset = _split_data(settings, options.split)
    _same_classes(source, payload.dataset.num_classes, checkpoint, options)
    model, method = _model(settings, payload, device)
    maps = _maps(options, method, model, progress)
    out = options.out or _default_out(target, checkpoint, options, maps)
    size = settings.data.eval_size
    map_shape = (size, size) if options.resolution == "full" else maps.shape(size, device)
    writer = CamStoreWriter.open_or_resume(
        out,
        ids=list(meta.image_ids),
        labels=[meta.labels[i] for i in meta.image_ids],
        provenance=_provenance(checkpoint, settings, options, source, meta, maps),
        map_shape=map_shape,
        resolution=options.resolution,
        dtype=options.dtype,
        topk=options.topk,
        overwrite=options.overwrite,
        replace_stale=options.replace_stale,
        progress=progress,
    )
    start, t0 = writer.start, time.perf_counter()
    try:
        with writer:
            _run(writer, maps, dataset, settings, options, device, precision)
    except KeyboardInterrupt:  # closing the writer committed every row it received
        raise ExportInterrupted(writer.path, writer.rows_done, writer.total) from None
    return writer, start, time.perf_counter() - t0


def checkpoint_settings(payload: Any, options: ExportOptions, checkpoint: Path) -> Settings:
    """The checkpoint's recorded settings, with the export's data folder and runtime."""
    settings = Settings(**payload.settings)
    if options.data is not None:
        data = settings.data.model_copy(
            update={"root": Path(options.data), "image_root": None, "mask_root": None}
        )
        settings = settings.model_copy(update={"data": data})
    elif settings.data.root is None:
        raise UsageError(
            f"{checkpoint} records no dataset (an imported checkpoint?): pass --data DIR, the "
            "prepared dataset to read (wsolkit prepare …)"
        )
    runtime = settings.runtime.model_copy(
        update={
            k: v
            for k, v in (
                ("device", options.device),
                ("amp", options.amp),
                ("workers", options.workers),
            )
            if v is not None
        }
    )
    return settings.model_copy(update={"runtime": runtime})


def _split_data(settings: Settings, split: str) -> tuple[Any, Any, Any]:
    from wsolkit.data.source import DataSource

    source = DataSource.from_settings(settings.data)
    if split not in source.splits:
        raise UsageError(
            f"--split {split}: {source.root} has the splits {', '.join(source.splits) or 'none'}"
        )
    meta = source.split(split)
    return source, meta, source.torch_dataset(split, train=False)


def _same_classes(source: Any, classes: int, checkpoint: Path, options: ExportOptions) -> None:
    """A dataset of another class count cannot be scored by this model."""
    if source.num_classes != classes:
        given = "--data " if options.data is not None else "the recorded dataset "
        raise DataError(
            f"{given}{source.root} has {source.num_classes} classes but {checkpoint} was "
            f"trained for {classes}; pass the dataset it was trained on"
        )


def _model(settings: Settings, payload: Any, device: torch.device) -> tuple[Any, Any]:
    from wsolkit.engine.build import build_model

    built = build_model(settings, payload.dataset.num_classes, weights="none")
    built.model.load_state_dict(payload.model)
    model = built.model.to(device).eval()
    if device.type == "cuda" and settings.runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, built.method


@dataclass(frozen=True)
class ScoreMaps:
    """The maps an export computes: an extractor over a method's model, at a stage."""

    extractor: Any  # a wsolkit.extractors.ScoreMapExtractor
    method: Any
    model: Any
    stage: str | None  # None: the final feature map
    progress: Progress | None = None  # for extractors that report within a batch

    def __call__(self, images: torch.Tensor, classes: torch.Tensor) -> Any:
        """Logits and raw maps of ``classes`` (B or B×k): a ``CamResult``.

        An extractor whose ``extract`` takes ``progress`` (Score-CAM: thousands of forward
        passes per batch) reports to the export's progress, as its own phase.
        """
        extra = {}
        if self.progress is not None and "progress" in _parameters(self.extractor.extract):
            extra["progress"] = self.progress
        return self.extractor.extract(
            self.method, self.model, images, classes, stage=self.stage, **extra
        )

    @torch.inference_mode()
    def shape(self, size: int, device: torch.device) -> tuple[int, int]:
        """(h, w) of the maps of a ``size``×``size`` input."""
        return tuple(self.extractor.map_shape(self.method, self.model, size, self.stage))

    @property
    def suffix(self) -> str:
        """What a store's default name adds for these maps: ``""`` for the method's own CAMs."""
        if self.extractor.name == "cam":
            return ""
        return f"-{self.extractor.name}" + (f"-{self.stage}" if self.stage else "")

    @property
    def params_json(self) -> str:
        """The extractor's hyperparameters as JSON (empty when it has none)."""
        values = self.extractor.params.model_dump(mode="json")
        return json.dumps(values, sort_keys=True) if values else ""


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    import inspect

    return tuple(inspect.signature(function).parameters)


def _maps(
    options: ExportOptions, method: Any, model: Any, progress: Progress | None = None
) -> ScoreMaps:
    """The extractor of ``options``, its hyperparameters checked and its stage resolved."""
    from wsolkit.methods import unwrap
    from wsolkit.registry import extractors

    extractor = extractors.create(options.extractor, **options.extractor_params)
    stage = extractor.resolve_stage(unwrap(model).backbone, options.stage)
    return ScoreMaps(extractor, method, model, stage, progress)


def _default_out(target: Path, checkpoint: Path, options: ExportOptions, maps: ScoreMaps) -> Path:
    name = f"cams-{options.split}-{checkpoint.stem}{maps.suffix}.h5"
    return (target / name) if Path(target).is_dir() else checkpoint.with_name(name)


def _provenance(
    checkpoint: Path,
    settings: Settings,
    options: ExportOptions,
    source: Any,
    meta: Any,
    maps: ScoreMaps,
) -> dict[str, Any]:
    return {
        "checkpoint_sha256": sha256_of(checkpoint),
        "checkpoint": str(checkpoint.resolve()),
        "backbone": settings.model.backbone,
        "method": settings.method.name,
        "dataset": settings.data.dataset or source.dataset or "",
        "split": options.split,
        "settings": json.dumps(settings.model_dump(mode="json"), sort_keys=True),
        "input_size": settings.data.eval_size,
        "eval_size": settings.data.eval_size,
        "metadata": str(meta.folder.resolve()) if meta.folder is not None else "",
        "extractor": maps.extractor.name,
        "stage": maps.stage or "",
        "extractor_params": maps.params_json,
    }


@torch.inference_mode()
def _run(
    writer: Any,
    maps: ScoreMaps,
    dataset: Any,
    settings: Settings,
    options: ExportOptions,
    device: torch.device,
    precision: Any,
) -> None:
    from torch.utils.data import DataLoader

    from wsolkit.cams import CamBatch
    from wsolkit.data.dataset import collate_skip_bad
    from wsolkit.data.transforms import BatchNormalize
    from wsolkit.engine.build import worker_options
    from wsolkit.metrics import normalize_scoremap

    index = {image_id: i for i, image_id in enumerate(dataset.image_ids)}
    remaining = [index[i] for i in writer.remaining_ids]
    loader = DataLoader(
        torch.utils.data.Subset(dataset, remaining),
        batch_size=options.batch_size or settings.optim.batch_size,
        pin_memory=device.type == "cuda",
        **worker_options(settings),
        collate_fn=collate_skip_bad,
    )
    size = settings.data.eval_size
    normalize = BatchNormalize.from_settings(settings.data)
    for batch in loader:
        if batch.skipped:
            bad = batch.skipped[0].path
            raise DataError(f"{bad}: unreadable image; a CAM store needs every image of the split")
        images = normalize(batch.images.to(device, non_blocking=True))
        labels = batch.labels.to(device, non_blocking=True)
        if device.type == "cuda" and settings.runtime.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with precision.autocast():
            result = maps(images, labels)  # one forward: logits + GT-class maps
            logits = result.logits.float()
            # Ranked on the logits, as training's evaluation ranks them (scores: softmax).
            top_classes = logits.topk(min(5, logits.shape[1]), dim=1).indices
            top_scores = logits.softmax(dim=1).gather(1, top_classes)
            topk_cams = None
            if options.topk:  # the classes are asked for up front: a second pass
                topk_cams = maps(images, top_classes[:, : options.topk]).cams.float()
        gt_cams = result.cams[:, 0].float()
        if options.resolution == "full":
            full = [normalize_scoremap(c, size) for c in gt_cams.cpu().numpy()]
            gt_cams = torch.from_numpy(np.stack(full))
        writer.put(
            CamBatch(
                cams=gt_cams,
                top5_classes=top_classes,
                top5_scores=top_scores,
                topk_cams=topk_cams,
                image_ids=batch.image_ids,
            )
        )
