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


class _Model(BaseModel):
    """Absent values (None) are left out of the JSON, as wsolkit has always written it."""

    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class _Scores(_Model):
    # Unknown keys (written by a newer wsolkit) are kept, never an error.
    model_config = ConfigDict(extra="allow")

    COLUMNS: ClassVar[tuple[Column, ...]] = ()

    def column_values(self) -> dict[str, float | None]:
        """This model's value of each of its :attr:`COLUMNS`."""
        return {}

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict, absent values left out."""
        return self.model_dump(mode="json")


class ValueAt(_Model):
    """A metric value and the CAM threshold it is read at."""

    value: float
    threshold: float


class Top1Loc(ValueAt):
    """Top-1 Loc: the maximum of its own curve, and its value at GT-known's best threshold."""

    at_gt_known_best_threshold: float | None = None


class BoxCurves(_Model):
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
    )

    pxap: float
    images: int | None = None
    cam_curve_interval: float | None = None
    pr_curve: PrCurve | None = None

    def column_values(self) -> dict[str, float | None]:
        """PxAP."""
        return {"pxap": self.pxap}


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
    store: str | None = None

    @classmethod
    def columns(cls) -> tuple[Column, ...]:
        """Every comparison column, in table order: classification, boxes, masks."""
        return (*cls.COLUMNS, *LocalizationScores.COLUMNS, *MaskScores.COLUMNS)

    def column_values(self) -> dict[str, float | None]:
        """The value of every column of :meth:`columns` (None where not measured)."""
        values: dict[str, float | None] = {"top1": self.top1, "top5": self.top5}
        for part, model in ((self.localization, LocalizationScores), (self.mask, MaskScores)):
            values.update(
                part.column_values() if part is not None else dict.fromkeys(
                    (c.key for c in model.COLUMNS), None
                )
            )
        return values


def legend(columns: tuple[Column, ...]) -> str:
    """One line explaining the column labels (each legend once, in column order)."""
    return " · ".join(dict.fromkeys(c.legend for c in columns))
