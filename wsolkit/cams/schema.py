"""The on-disk schema of a CAM store, version ``wsolkit-cams/1`` (see docs/cam-store.md).

One HDF5 file. Row ``i`` of every per-image dataset belongs to ``image_ids[i]``;
rows are planned (allocated) for all images up front, in the split's order, and
only the first ``rows_done`` rows are valid. Everything here is plain data and
constants shared by the writer and the reader.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

import numpy as np

from wsolkit import __version__

FORMAT = "wsolkit-cams/1"
FORMAT_PREFIX = "wsolkit-cams/"

# Datasets (N = planned rows, H×W = map shape, P = 5 prediction slots, k = topk).
IMAGE_IDS = "image_ids"  # N, variable-length UTF-8
LABELS = "labels"  # N, int32
TOP5_CLASSES = "top5_classes"  # N×5, int32, -1 where the model has fewer classes
TOP5_SCORES = "top5_scores"  # N×5, float32 softmax probabilities, NaN where no class
CAMS = "cams"  # N×H×W: raw CAM of the ground-truth class, or the full score map
TOPK_CAMS = "topk_cams"  # N×k×H×W: raw CAMs of top5_classes[:, :k]

# Attributes of the root group.
ROWS_TOTAL = "rows_total"
ROWS_DONE = "rows_done"
COMPLETE = "complete"
PREDICTION_SLOTS = 5

Resolution = Literal["raw", "full"]
RESOLUTIONS: tuple[str, ...] = ("raw", "full")
DTYPES: dict[str, np.dtype] = {
    "float16": np.dtype("<f2"),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
}
SEMANTICS = {
    "raw": "raw CAM of the ground-truth class at feature-map resolution, not normalized; "
    "score map = SPEC 2.2 normalize_scoremap(cam, eval_size)",
    "full": "normalized score map (eval_size x eval_size, values in [0, 1]), used as it is",
}

COMPRESSION_LEVEL = 1  # gzip level: 1 is within ~1% of level 6 in size, 1.3-3x faster.
CHUNK_BYTES = 32 * 1024  # target uncompressed chunk size
MAX_CHUNK_ROWS = 64


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds (``2025-01-31T12:00:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Provenance:
    """Where the maps of a store come from; stored as root attributes of the same names.

    ``settings`` is the resolved settings text (JSON or YAML); a mapping given
    to :meth:`from_mapping` is written as JSON with sorted keys. ``source`` says
    what produced the maps (``"model"``, or the score-map folder an import read);
    ``metadata`` is the metadata split folder the ids and labels came from (a
    hint for evaluation; not compared on resume, since folders move).
    ``extractor`` names the score-map extractor (``cam``: the method's own map;
    ``grad-cam``, ``bagcams``, …), ``stage`` the backbone stage it explained (empty:
    the final feature map) and ``extractor_params`` its hyperparameters as JSON;
    stores written before extractors existed read as ``cam`` at the final map.
    ``extra`` holds any further JSON-able facts (stored as one JSON attribute).
    """

    checkpoint_sha256: str = ""
    checkpoint: str = ""
    backbone: str = ""
    method: str = ""
    dataset: str = ""
    split: str = ""
    settings: str = ""
    input_size: int = 0
    eval_size: int = 0
    source: str = "model"
    extractor: str = "cam"
    stage: str = ""
    extractor_params: str = ""
    metadata: str = ""
    wsolkit_version: str = __version__
    created: str = field(default_factory=now_iso)
    extra: Mapping[str, Any] = field(default_factory=dict)

    # Facts that must match to resume a store (the rest describe the run).
    IDENTITY: ClassVar[tuple[str, ...]] = (
        "checkpoint_sha256",
        "backbone",
        "method",
        "dataset",
        "split",
        "settings",
        "input_size",
        "eval_size",
        "source",
        "extractor",
        "stage",
        "extractor_params",
    )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | Provenance) -> Provenance:
        """Build from a mapping of the field names; an unknown key is a ``KeyError``."""
        if isinstance(values, Provenance):
            return values
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise KeyError(
                f"unknown provenance key(s) {unknown}; valid keys: {sorted(names)} "
                "(put anything else under 'extra')"
            )
        data = dict(values)
        if isinstance(data.get("settings"), Mapping):
            data["settings"] = json.dumps(data["settings"], sort_keys=True, default=str)
        for key in _INT_FIELDS:
            if key in data:
                data[key] = int(data[key] or 0)
        return cls(**data)

    def to_attrs(self) -> dict[str, Any]:
        """The root attributes this provenance is stored as."""
        attrs = {k: v for k, v in asdict(self).items() if k != "extra"}
        attrs["provenance_extra"] = json.dumps(dict(self.extra), sort_keys=True, default=str)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Provenance:
        """Read back what :meth:`to_attrs` wrote (missing keys keep their defaults)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                values["extra"] = json.loads(_text(attrs.get("provenance_extra", "{}")) or "{}")
            elif f.name in attrs:
                raw = attrs[f.name]
                values[f.name] = int(raw) if f.name in _INT_FIELDS else _text(raw)
        return cls(**values)


_INT_FIELDS = ("input_size", "eval_size")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Layout:
    """The shape of a store's datasets: what must match for rows to be appended."""

    resolution: Resolution
    map_shape: tuple[int, int]
    dtype: np.dtype
    topk: int = 0
    predictions: bool = True
    chunk_rows: int = 0  # 0: choose with :func:`chunk_rows_for`

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        if len(self.map_shape) != 2 or min(self.map_shape) < 1:
            raise ValueError(f"map_shape must be (H, W) with H, W >= 1, got {self.map_shape}")
        if not 0 <= self.topk <= PREDICTION_SLOTS:
            raise ValueError(f"topk must lie in 0..{PREDICTION_SLOTS}, got {self.topk}")
        if self.topk and not self.predictions:
            raise ValueError("topk CAMs need predictions (top5_classes says whose CAMs they are)")
        object.__setattr__(self, "map_shape", tuple(int(s) for s in self.map_shape))
        object.__setattr__(self, "dtype", resolve_dtype(self.dtype))
        if not self.chunk_rows:
            object.__setattr__(self, "chunk_rows", chunk_rows_for(self.row_bytes))

    @property
    def row_bytes(self) -> int:
        """Uncompressed bytes of one image's maps (ground truth plus top-k)."""
        return (1 + self.topk) * self.map_shape[0] * self.map_shape[1] * self.dtype.itemsize


def resolve_dtype(dtype: Any) -> np.dtype:
    """``"float16"``/``"float32"``/``"float64"`` (or a numpy dtype) as little-endian dtype."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ValueError(f"map dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[name]


def chunk_rows_for(row_bytes: int) -> int:
    """Rows per chunk: about :data:`CHUNK_BYTES` uncompressed, between 1 and 64.

    28×28 float16 gives 20 rows, 14×14 float16 64, a 224×224 float32 score map 1.
    """
    return max(1, min(MAX_CHUNK_ROWS, CHUNK_BYTES // max(row_bytes, 1)))


def encode_chunk(block: np.ndarray, level: int = COMPRESSION_LEVEL) -> bytes:
    """One HDF5 chunk through the dataset's filters: byte shuffle, then deflate.

    HDF5's shuffle filter puts byte ``j`` of element ``i`` at ``j·n + i`` (n
    elements of ``s`` bytes): the transpose of the n×s byte matrix. Doing it
    here (zlib releases the GIL) lets the writer thread compress while the
    model runs, and the file stays readable by any HDF5 reader.
    """
    block = np.ascontiguousarray(block)
    if block.itemsize > 1:
        planes = block.reshape(-1).view(np.uint8).reshape(-1, block.itemsize).T
        block = np.ascontiguousarray(planes)
    return zlib.compress(block, level)
