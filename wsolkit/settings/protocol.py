"""The evaluation protocol: how score maps are scored (SPEC.md §2), defined once.

:class:`EvalProtocol` is the one frozen object every evaluator receives. Its
four fields are declared here, with their defaults, ranges and documentation,
and reused by the settings sections that hold them in YAML (``data.eval_size``,
``eval.cam_curve_interval``, ``eval.iou_thresholds``, ``eval.multi_contour``) and
by the flags of ``wsolkit eval``: one definition, one validation, everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from wsolkit.errors import UsageError


def _check_iou_levels(levels: tuple[int, ...]) -> tuple[int, ...]:
    if not levels:
        raise ValueError("give at least one IoU level")
    if any(not 0 < level <= 100 for level in levels):
        raise ValueError("IoU levels are percentages: each must be in 1..100")
    if len(set(levels)) != len(levels):
        raise ValueError("an IoU level is repeated")
    return tuple(levels)


DEFAULT_EVAL_SIZE = 224
DEFAULT_CAM_CURVE_INTERVAL = 0.001
DEFAULT_IOU_THRESHOLDS = (30, 50, 70)
DEFAULT_MULTI_CONTOUR = True

EvalSize = Annotated[
    int,
    Field(
        ge=8,
        le=4096,
        description="Evaluation resolution S: score maps are S×S (224 on published datasets, "
        "native on synthetic).",
    ),
]
CamCurveInterval = Annotated[
    float,
    Field(gt=0, lt=1, description="Step of the CAM threshold sweep (canonical 0.001)."),
]
IouThresholds = Annotated[
    tuple[int, ...],
    AfterValidator(_check_iou_levels),
    Field(description="IoU levels in percent for MaxBoxAcc; MaxBoxAccV2 averages them."),
]
MultiContour = Annotated[
    bool,
    Field(description="All contours (MaxBoxAccV2); false: the largest one (the old MaxBoxAcc)."),
]


class EvalProtocol(BaseModel):
    """How a split is scored: evaluation size, threshold step, IoU levels, contours.

    Frozen and hashable; ``EvalProtocol()`` is the canonical wsolevaluation protocol
    at 224 px (MaxBoxAccV2: IoU 30/50/70, all contours, step 0.001).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    eval_size: EvalSize = DEFAULT_EVAL_SIZE
    cam_curve_interval: CamCurveInterval = DEFAULT_CAM_CURVE_INTERVAL
    iou_thresholds: IouThresholds = DEFAULT_IOU_THRESHOLDS
    multi_contour: MultiContour = DEFAULT_MULTI_CONTOUR

    @property
    def is_canonical_v2(self) -> bool:
        """Whether the mean over IoU levels is MaxBoxAccV2 proper (30/50/70, all contours)."""
        return self.multi_contour and self.iou_thresholds == DEFAULT_IOU_THRESHOLDS

    def with_eval_size(self, eval_size: int) -> EvalProtocol:
        """The same protocol at another evaluation size."""
        return self.model_copy(update={"eval_size": eval_size})

    @classmethod
    def from_flags(cls, flags: dict[str, tuple[str, Any]], **known: Any) -> EvalProtocol:
        """Build from command-line flags: ``{field: (flag, value or None)}``.

        Flags left out (None) take ``known`` values, then the defaults; an invalid
        value is a usage error naming the flag, e.g. ``--cam-curve-interval 2: must
        lie in (0, 1)``.
        """
        values = dict(known)
        values.update({name: value for name, (_, value) in flags.items() if value is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else ""
            flag = flags.get(name, (name, None))[0]
            message = error["msg"].removeprefix("Value error, ")
            raise UsageError(f"{flag} {error.get('input')!r}: {message}") from None


def parse_iou_levels(text: str, flag: str = "--iou-thresholds") -> tuple[int, ...]:
    """``"30,50,70"`` → ``(30, 50, 70)``; the range and repeats are checked by the model."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"{flag} '{text}': expected comma-separated integers, e.g. 30,50,70"
        ) from None
