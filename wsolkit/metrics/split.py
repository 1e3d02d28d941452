"""One split evaluator: every metric of a split, fed batch by batch, merged across processes.

:class:`SplitEvaluation` owns the evaluators a split supports — classification
accuracy always, boxes when the metadata has them, masks when it has them and
the mask folder is known — and is the only evaluation loop wsolkit has. The
training engine (validation and test, one shard per DDP rank), score-map
folders (one shard per worker process) and CAM stores all feed it::

    evaluation = SplitEvaluation(metadata, protocol, mask_root=masks)
    evaluation.accumulate(scoremaps, image_ids, top5=predicted)   # per batch
    evaluation.merge(other_shard.state())                          # workers / ranks
    report = evaluation.compute()                                  # EvaluationReport

A metric is one evaluator class in :data:`EVALUATORS` — ``field`` (the
:class:`~wsolkit.metrics.report.EvaluationReport` field it fills),
``applies(metadata, mask_root)``, ``for_split(metadata, protocol, mask_root)``,
``accumulate_batch``, ``state`` /
``merge_state`` / ``reset`` and ``compute`` — plus that report field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.evaluator import BoxEvaluator, ClassificationAccuracy
from wsolkit.metrics.pxap import MaskEvaluator
from wsolkit.metrics.report import EvaluationReport
from wsolkit.settings.protocol import EvalProtocol


@dataclass(frozen=True)
class ScoredBatch:
    """Score maps of some images of a split, and optionally the classes predicted for them.

    ``scoremaps``: B maps of S×S float64 in [0, 1] (S = the protocol's eval size);
    ``image_ids``: B ids of the split; ``top5``: B×k predicted classes, best first
    (k ≤ 5), or None.
    """

    scoremaps: Sequence[np.ndarray]
    image_ids: Sequence[str]
    top5: np.ndarray | None = None


class SplitMetric(Protocol):
    """What an evaluator of :data:`EVALUATORS` provides (see the module docstring)."""

    field: ClassVar[str]

    @classmethod
    def applies(cls, metadata: SplitMetadata, mask_root: Path | None) -> bool: ...

    @classmethod
    def for_split(
        cls, metadata: SplitMetadata, protocol: EvalProtocol, mask_root: Path | None
    ) -> SplitMetric: ...

    def accumulate_batch(self, batch: ScoredBatch) -> None: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def merge_state(self, state: dict[str, np.ndarray]) -> None: ...

    def reset(self) -> None: ...

    def compute(self) -> Any: ...


#: The evaluators of a split, in report order.
EVALUATORS: tuple[type[Any], ...] = (ClassificationAccuracy, BoxEvaluator, MaskEvaluator)


class SplitEvaluation:
    """Every metric of one split under one protocol (see the module docstring)."""

    def __init__(
        self,
        metadata: SplitMetadata,
        protocol: EvalProtocol | None = None,
        *,
        mask_root: Path | str | None = None,
    ) -> None:
        self.metadata = metadata
        self.protocol = protocol or EvalProtocol()
        self.mask_root = Path(mask_root) if mask_root is not None else None
        self.members: dict[str, SplitMetric] = {
            cls.field: cls.for_split(metadata, self.protocol, self.mask_root)
            for cls in EVALUATORS
            if cls.applies(metadata, self.mask_root)
        }
        self.notes: list[str] = []
        self._counts = np.zeros(2, dtype=np.int64)  # images, images with predictions

    @property
    def localizes(self) -> bool:
        """Whether any localization metric (boxes or masks) applies to this split."""
        return any(name != ClassificationAccuracy.field for name in self.members)

    def accumulate(
        self,
        scoremaps: Sequence[np.ndarray] | np.ndarray,
        image_ids: Sequence[str],
        *,
        top5: np.ndarray | Any | None = None,
    ) -> None:
        """Add a batch: B score maps (S×S, [0, 1]), their ids and optional B×k predictions."""
        ids = [str(i) for i in image_ids]
        if len(scoremaps) != len(ids):
            raise ValueError(f"{len(scoremaps)} score maps but {len(ids)} image ids")
        classes = None
        if top5 is not None:
            classes = np.asarray(top5.cpu() if hasattr(top5, "cpu") else top5, dtype=np.int64)
            if classes.ndim != 2 or classes.shape[0] != len(ids):
                raise ValueError(f"top5 must be B×k with B={len(ids)}, got {classes.shape}")
        batch = ScoredBatch(list(scoremaps), ids, classes)
        for member in self.members.values():
            member.accumulate_batch(batch)
        self._counts += (len(ids), len(ids) if classes is not None else 0)

    def state(self) -> dict[str, np.ndarray]:
        """Every member's count arrays as one flat mapping (``"box.correct"``, ...): sum
        them across processes or ranks, then :meth:`merge` them into one evaluation."""
        out = {"split.counts": self._counts.copy()}
        for name, member in self.members.items():
            out.update({f"{name}.{key}": value for key, value in member.state().items()})
        return out

    def merge(self, state: dict[str, np.ndarray]) -> None:
        """Add another shard's :meth:`state` (same split and protocol) to this one."""
        unknown = {key.partition(".")[0] for key in state} - {"split", *self.members}
        if unknown:
            raise ValueError(f"cannot merge the state of {sorted(unknown)}: not in this split")
        self._counts += np.asarray(state["split.counts"], dtype=np.int64)
        for name, member in self.members.items():
            prefix = f"{name}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            member.merge_state(own)

    def reset(self) -> None:
        """Forget every accumulated image."""
        self._counts[:] = 0
        for member in self.members.values():
            member.reset()

    @property
    def images(self) -> int:
        """Images accumulated so far (over every merged shard)."""
        return int(self._counts[0])

    def compute(self) -> EvaluationReport:
        """The report over every image accumulated (at least one)."""
        images, predicted = (int(c) for c in self._counts)
        if images == 0:
            raise DataError("no score map was accumulated: nothing to evaluate")
        results = {name: member.compute() for name, member in self.members.items()}
        if predicted != images:  # accuracy only over the whole split, never a part of it
            results.pop(ClassificationAccuracy.field, None)
        return EvaluationReport(images=images, notes=list(self.notes), **results)
