"""``check_method``: does a method plugin keep the interface of docs/backbone-interface.md?"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from torch import nn

from wsolkit.backbones import Backbone, ClassMapHead, StageInfo
from wsolkit.errors import SettingsError
from wsolkit.methods import (
    REQUIREMENTS,
    IncompatibleBackboneError,
    MethodParams,
    WsolMethod,
    WsolModel,
)
from wsolkit.registry import methods
from wsolkit.testing.steps import step_and_cams
from wsolkit.testing.support import (
    MethodReport,
    Subject,
    resolve_backbone,
    resolve_method,
    seeded,
)

TYPO = "not_a_hyperparameter"


class BareBackbone(Backbone):
    """Two conv stages and a class-map head: no split point, no ADL positions, no linear head.

    Every method with a requirement must refuse it with ``IncompatibleBackboneError``.
    """

    name = "wsolkit-testing-bare"
    description = "Two conv stages, class-map head, no split point or ADL positions."

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes, self.large_feature_map = num_classes, large_feature_map
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1), nn.ReLU())
        self.finish_init(self.stage_table(), ClassMapHead(8, num_classes), weights)

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """conv1 (/2), conv2 (/2)."""
        return (StageInfo("conv1", 8, 2, ("conv1",)), StageInfo("conv2", 8, 2, ("conv2",)))

    @classmethod
    def head_kind(cls) -> str:
        """A class-map head."""
        return "class-map"

    def stage(self, name: str) -> nn.Module:
        """``conv1`` or ``conv2``."""
        self.stage_info(name)
        return getattr(self, name)

    def is_new_parameter(self, name: str, recipe: str) -> bool:
        """Only the head is new."""
        return name.startswith("head.")


def _bounds(info: Any) -> list[tuple[str, float]]:
    """The out-of-range values of a numeric field: ``[("ge", bound), …]`` from its metadata."""
    out = []
    for meta in info.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            value = getattr(meta, attr, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append((attr, value))
    return out


def check_refusals(subject: Subject, cls: Any, params_cls: type[BaseModel], kind: str) -> None:
    """An unknown hyperparameter and every out-of-range value are refused with a
    ``SettingsError`` naming ``<kind>.<key>`` (``kind``: method or extractor)."""
    try:
        cls(**{TYPO: 1})
    except SettingsError as exc:
        subject.expect(f"{kind}.{TYPO}" in str(exc), f"the typo error does not name it: {exc}")
    else:
        subject.fail(f"an unknown hyperparameter '{TYPO}' was accepted")
    for name, info in params_cls.model_fields.items():
        for attr, bound in _bounds(info):
            bad = bound - 1 if attr in ("ge", "gt") else bound + 1
            try:
                cls(**{name: bad})
            except SettingsError as exc:
                subject.expect(
                    f"{kind}.{name}" in str(exc), f"the range error does not name it: {exc}"
                )
            else:
                subject.fail(f"{kind}.{name} = {bad} was accepted although {attr}={bound}")


def check_params(subject: Subject, cls: type[WsolMethod]) -> None:
    """The ``Params`` model: forbids unknown keys, documents every field, enforces its ranges."""
    params_cls = cls.Params
    subject.expect(
        isinstance(params_cls, type) and issubclass(params_cls, MethodParams),
        "Params must subclass wsolkit.methods.MethodParams",
    )
    subject.expect(
        params_cls.model_config.get("extra") == "forbid", "Params must set extra='forbid'"
    )
    undocumented = [n for n, f in params_cls.model_fields.items() if not f.description]
    subject.expect(
        not undocumented, f"Params fields without Field(description=...): {undocumented}"
    )
    default = cls()  # the published defaults must validate
    subject.expect(isinstance(default.params, params_cls), "method.params is not a Params")
    again = cls(default.params.model_dump())
    subject.expect(again.params == default.params, "Params do not survive model_dump() → cls()")
    check_refusals(subject, cls, params_cls, "method")
    try:
        json.dumps(cls.plugin_details())
    except (TypeError, ValueError) as exc:
        subject.fail(f"plugin_details() is not JSON-serializable: {exc}")


def check_method_class(subject: Subject, cls: type[WsolMethod], registered: str | None) -> None:
    """Name (or alias), description, requirements, hyperparameters."""
    subject.expect(
        isinstance(cls, type) and issubclass(cls, WsolMethod),
        f"{cls!r} is not a subclass of wsolkit.methods.WsolMethod",
    )
    subject.expect(cls.name, "the class attribute 'name' is empty")
    if registered is not None and cls.name != registered:
        subject.expect(
            cls.name in methods and methods.load(cls.name) is cls,
            f"registered as '{registered}' but its name '{cls.name}' is not registered to it",
        )
    subject.expect(cls.description.strip(), "the class attribute 'description' is empty")
    unknown = sorted(set(cls.requires) - set(REQUIREMENTS))
    subject.expect(not unknown, f"unknown requirements {unknown}; known: {sorted(REQUIREMENTS)}")
    check_params(subject, cls)


def check_method(
    method: str | type[WsolMethod],
    *,
    backbone: str | type[Backbone] = "tiny",
    params: BaseModel | Mapping[str, Any] | None = None,
    input_size: int = 64,
    num_classes: int = 5,
    seed: int = 0,
) -> MethodReport:
    """Check a method against the plugin interface; raise ``AssertionError`` on the first problem.

    Checks: name, description and requirements; the ``Params`` model (extra keys
    forbidden, every field described, defaults valid, a typo and each out-of-range
    value raise ``SettingsError`` naming ``method.<key>``, JSON details); a
    requirement-less backbone is refused with ``IncompatibleBackboneError`` (default
    hyperparameters) when the method requires anything; on ``backbone``, ``build`` gives a
    :class:`~wsolkit.methods.WsolModel` owning it, whose parameter groups hold each
    parameter once; one training step (``prepare_batch`` keeps the shape, the
    losses are finite 0-dim tensors with ``"total"``, every parameter gets a
    gradient, the SGD step moves them); in eval mode under
    ``torch.inference_mode()`` ``cams`` gives logits B×K and CAMs B×k×h×w at the
    final feature map's size, for given classes and for the top-k, through a
    DDP-style wrapper too.

    Example::

        check_method("adl", params={"positions": ["conv3"]})
    """
    cls, label = resolve_method(method)
    subject = Subject(label)
    check_method_class(subject, cls, method if isinstance(method, str) else None)
    instance = cls() if params is None else cls(params)
    if cls.requires:  # with the default hyperparameters (e.g. ADL's positions may name stages)
        try:
            cls().build(BareBackbone(num_classes=num_classes))
        except IncompatibleBackboneError:
            pass
        else:
            subject.fail(
                f"requires {sorted(cls.requires)} but build() accepted a backbone with none of "
                "them (it must raise IncompatibleBackboneError)"
            )
    bcls, blabel = resolve_backbone(backbone)
    s = subject.within(f"on {blabel}")
    with seeded(seed):
        net = bcls(num_classes=num_classes, large_feature_map=False, weights="none")
        model = instance.build(net)
        s.expect(isinstance(model, WsolModel), f"build() returned {type(model).__name__}")
        s.expect(model.backbone is net, "build(backbone).backbone is not that backbone")
        result = step_and_cams(
            s, instance, model, input_size=input_size, num_classes=num_classes, seed=seed
        )
    return MethodReport(
        cls.name,
        bcls.name,
        result.losses,
        result.feature_size,
        result.cam_size,
        tuple(cls.Params.model_fields),
    )
