"""The numbers of an evaluation as typed, serializable models.

These are what travels past the metrics package: the validation and test
records of ``metrics.jsonl``, the ``test`` results of ``summary.json``, the
rows of ``wsolkit compare``. They are written with ``model_dump(mode="json",
exclude_none=True)`` — the JSON shapes wsolkit has always written — and read
back with ``model_validate``, so files of earlier runs keep working.

Each model says which comparison columns it contributes (:class:`Column`):
``wsolkit compare`` and the tables render those, so a new metric that adds a
field here shows up everywhere without touching the renderers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


class Column(BaseModel):
    """One comparison column: its key (``--sort``/``--where``), short label and legend."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    legend: str


class CompactModel(BaseModel):
    """Absent values (None) are left out of the JSON, as wsolkit has always written it."""

    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class _Scores(CompactModel):
    # Unknown keys (written by a newer wsolkit) are kept, never an error.
    model_config = ConfigDict(extra="allow")

    COLUMNS: ClassVar[tuple[Column, ...]] = ()

    def column_values(self) -> dict[str, float | None]:
        """This model's value of each of its :attr:`COLUMNS`."""
        return {}

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict, absent values left out."""
        return self.model_dump(mode="json")


class ValueAt(CompactModel):
    """A metric value and the CAM threshold it is read at."""

    value: float
    threshold: float


class Top1Loc(ValueAt):
    """Top-1 Loc: the maximum of its own curve, and its value at GT-known's best threshold."""

    at_gt_known_best_threshold: float | None = None


class BoxCurves(CompactModel):
    """BoxAcc (and Top-1 Loc) in percent per IoU level, over the thresholds of the sweep."""

    thresholds: list[float]
    box_acc: dict[str, list[float]]
    top1_loc: dict[str, list[float]] | None = None


BOX_LEVEL_COLUMNS = (30, 50, 70)


class LocalizationScores(_Scores):
    """Box metrics of a split (SPEC.md §2.7): MaxBoxAcc per IoU level (keys are the levels as
    text, ``"50"``), their mean MaxBoxAccV2, best thresholds, GT-known and Top-1 Loc."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column(key="top1_loc", label="T1Loc", legend="T1Loc: Top-1 Loc"),
        Column(
            key="gt_known_loc",
            label="GTLoc",
            legend="GTLoc: GT-known Loc (IoU 50, at the best threshold)",
        ),
        *(
            Column(key=f"box_acc_{d}", label=f"@{d}", legend="@δ: MaxBoxAcc at IoU δ%")
            for d in BOX_LEVEL_COLUMNS
        ),
        Column(key="max_box_acc_v2", label="V2", legend="V2: MaxBoxAccV2"),
        Column(key="mean_iou", label="mIoU", legend="mIoU: mean best IoU per image"),
    )

    max_box_acc_v2: float
    max_box_acc: dict[str, float]
    best_threshold: dict[str, float] | None = None
    images: int | None = None
    multi_contour: bool | None = None
    cam_curve_interval: float | None = None
    iou_thresholds: list[int] | None = None
    gt_known_loc: ValueAt | None = None
    top1_loc: Top1Loc | None = None
    mean_iou: float | None = None
    raw_iou: ValueAt | None = None
    curves: BoxCurves | None = None

    def column_values(self) -> dict[str, float | None]:
        """Top-1 Loc, GT-known Loc, MaxBoxAcc at IoU 30/50/70 and MaxBoxAccV2."""
        values: dict[str, float | None] = {
            "top1_loc": self.top1_loc.value if self.top1_loc else None,
            "gt_known_loc": self.gt_known_loc.value if self.gt_known_loc else None,
        }
        for level in BOX_LEVEL_COLUMNS:
            values[f"box_acc_{level}"] = self.max_box_acc.get(str(level))
        values["max_box_acc_v2"] = self.max_box_acc_v2
        values["mean_iou"] = self.mean_iou
        return values

    def curve(self, level: int = 50) -> list[float] | None:
        """The BoxAcc curve at one IoU level, when the curves were kept."""
        return self.curves.box_acc.get(str(level)) if self.curves else None


class PrCurve(BaseModel):
    """Pixel precision (None where nothing is predicted positive) and recall."""

    precision: list[float | None]
    recall: list[float]


class MaskScores(_Scores):
    """PxAP of a mask split and its precision-recall curve (SPEC.md §2.8)."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column(key="pxap", label="PxAP", legend="PxAP: pixel average precision"),
        Column(key="piou", label="pIoU", legend="pIoU: best pixel IoU over thresholds"),
    )

    pxap: float
    images: int | None = None
    cam_curve_interval: float | None = None
    piou: ValueAt | None = None
    pr_curve: PrCurve | None = None

    def column_values(self) -> dict[str, float | None]:
        """PxAP and pIoU."""
        return {"pxap": self.pxap, "piou": self.piou.value if self.piou else None}


class Taus(CompactModel):
    """CAM thresholds to read a split at: per IoU level (keys ``"50"``) and for masks.

    ``source`` says where they come from (``"val"``, a file, ``"given"``).
    """

    source: str
    box: dict[str, float] | None = None
    mask: float | None = None

    @classmethod
    def from_scores(cls, scores: SplitScores, source: str = "val") -> Taus:
        """The thresholds a split's own evaluation found best (its oracle thresholds)."""
        loc, mask = scores.localization, scores.mask
        return cls(
            source=source,
            box=dict(loc.best_threshold) if loc is not None and loc.best_threshold else None,
            mask=mask.piou.threshold if mask is not None and mask.piou is not None else None,
        )

    @classmethod
    def given(cls, tau: float, levels: tuple[int, ...]) -> Taus:
        """One threshold for every IoU level and for masks."""
        return cls(source="given", box={str(d): tau for d in levels}, mask=tau)


class PixelScores(BaseModel):
    """Pixel precision, recall, F1 and IoU (percent) at one CAM threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float
    iou: float


class AtTaus(CompactModel):
    """A split read at thresholds chosen elsewhere (see the module docstring)."""

    taus: Taus
    box_acc: dict[str, float] | None = None
    mean: float | None = None
    gt_known_loc: float | None = None
    top1_loc: float | None = None
    mask: PixelScores | None = None


class SplitScores(_Scores):
    """Everything measured on one split by one model or store: classification accuracy
    (``top1``/``top5``), ``localization`` (boxes), ``mask`` (PxAP), and the score that picks
    checkpoints (``score_name``: MaxBoxAccV2, or PxAP on a mask-only split)."""

    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column(key="top1", label="Top-1", legend="Top-1/Top-5: classification accuracy"),
        Column(key="top5", label="Top-5", legend="Top-1/Top-5: classification accuracy"),
    )

    images: int | None = None
    top1: float | None = None
    top5: float | None = None
    localization: LocalizationScores | None = None
    mask: MaskScores | None = None
    score_name: str | None = None
    score: float | None = None
    at_tau: AtTaus | None = None
    box_sets: dict[str, SplitScores] | None = None
    store: str | None = None

    def selection_score(self, select_by: str = "gt") -> float | None:
        """The checkpoint-selection score by the split's own boxes (``"gt"``) or a box set."""
        if select_by == "gt":
            return self.score
        chosen = (self.box_sets or {}).get(select_by)
        return chosen.score if chosen is not None else None

    AT_TAU_COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column(
            key="v2_at_tau",
            label="V2τ",
            legend="V2τ: mean BoxAcc at the thresholds chosen on val",
        ),
    )

    @classmethod
    def columns(cls) -> tuple[Column, ...]:
        """Every comparison column, in table order: classification, boxes, masks."""
        return (
            *cls.COLUMNS,
            *LocalizationScores.COLUMNS,
            *cls.AT_TAU_COLUMNS,
            *MaskScores.COLUMNS,
        )

    def column_values(self) -> dict[str, float | None]:
        """The value of every column of :meth:`columns` (None where not measured)."""
        values: dict[str, float | None] = {"top1": self.top1, "top5": self.top5}
        values["v2_at_tau"] = self.at_tau.mean if self.at_tau is not None else None
        for part in (self.localization, self.mask):
            if part is not None:
                values.update(part.column_values())
        return {column.key: values.get(column.key) for column in self.columns()}


def legend(columns: tuple[Column, ...]) -> str:
    """One line explaining the column labels (each legend once, in column order)."""
    return " · ".join(dict.fromkeys(c.legend for c in columns))
