"""The method interface: hyperparameters, requirements, model, batch, losses, CAMs.

A method is a small class over named steps (like pytorch-grad-cam's methods
over ``BaseCAM``); its math lives in :mod:`wsolkit.functional`:

- ``Params``: a pydantic model (``extra="forbid"``, ranges, published defaults).
- ``requires``: what a backbone must offer (:data:`REQUIREMENTS`).
- ``build(backbone) -> WsolModel``: the ``nn.Module`` the trainer trains (and
  wraps in DistributedDataParallel).
- ``prepare_batch(images, labels, generator) -> (images, Targets)``: input-level
  augmentation (HaS, CutMix); the identity by default.
- ``losses(outputs, targets, epoch=, warm_epochs=) -> {"total", <term>: …}``.
- ``cams(model, images, classes)``: logits and raw CAMs from one forward pass.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.errors import SettingsError, WsolkitError
from wsolkit.functional.augment import mixed_cross_entropy
from wsolkit.methods.model import CamResult, WsolModel, unwrap

REQUIREMENTS: dict[str, str] = {
    "split_point": "a split point (the stage after which f1 ends)",
    "linear_head": "a linear head (class weights K×C over the final feature map)",
    "adl_positions": "ADL positions (the stages after which ADL layers sit)",
}


class IncompatibleBackboneError(WsolkitError):
    """A method asked for on a backbone that cannot host it."""


class MethodParams(BaseModel):
    """Base of every method's hyperparameter model (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Targets:
    """What the losses compare the outputs with.

    ``labels`` are the images' own labels (accuracy is measured against them);
    CutMix adds the pasted images' labels ``mixed_labels`` and ``lam``, the
    share of each image that is its own.
    """

    labels: Tensor
    mixed_labels: Tensor | None = None
    lam: float = 1.0


def classification_loss(logits: Tensor, targets: Targets) -> Tensor:
    """Cross-entropy, or ``λ·CE(labels) + (1 − λ)·CE(mixed_labels)`` for mixed targets."""
    if targets.mixed_labels is None:
        return F.cross_entropy(logits, targets.labels)
    return mixed_cross_entropy(logits, targets.labels, targets.mixed_labels, targets.lam)


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "str"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _range_text(info: Any) -> str | None:
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(annotation))
    low = high = None
    for meta in info.metadata:
        for attr, bracket in (("ge", "["), ("gt", "(")):
            if getattr(meta, attr, None) is not None:
                low = f"{bracket}{getattr(meta, attr)}"
        for attr, bracket in (("le", "]"), ("lt", ")")):
            if getattr(meta, attr, None) is not None:
                high = f"{getattr(meta, attr)}{bracket}"
    if low is None and high is None:
        return None
    return f"{low or '(-inf'}, {high or 'inf)'}"


def hyperparameter_rows(params: type[BaseModel]) -> list[dict[str, Any]]:
    """A ``Params`` schema for ``wsolkit list --json``: name, type, default, range, description."""
    return [
        {
            "name": name,
            "type": _type_name(info.annotation),
            "default": info.default,
            "range": _range_text(info),
            "description": info.description or "",
        }
        for name, info in params.model_fields.items()
    ]


def validate_hyperparameters(
    model: type[BaseModel],
    params: BaseModel | Mapping[str, Any] | None,
    hyper: Mapping[str, Any],
    kind: str,
    owner: str,
) -> Any:
    """``model`` built from ``params`` (a model instance or a mapping) updated with ``hyper``.

    A bad value is a :class:`SettingsError` of one line naming ``<kind>.<key>``, the value
    and ``<kind> '<owner>'``; an unknown key also suggests the closest name and lists them
    all (methods and extractors share this).
    """
    given: dict[str, Any] = {}
    if isinstance(params, BaseModel):
        given.update(params.model_dump())
    elif params is not None:
        given.update(params)
    given.update(hyper)
    try:
        return model(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        known = list(model.model_fields)
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
            listing = ", ".join(known) if known else "none"
            message = (
                f"unknown hyperparameter {kind}.{key} for {kind} '{owner}'.{suggestion} "
                f"Its hyperparameters: {listing}."
            )
        else:
            message = (
                f"invalid setting {kind}.{key} = {err.get('input')!r} ({kind} '{owner}'): "
                f"{err['msg']}"
            )
        raise SettingsError(message) from None


class WsolMethod:
    """Base class of method plugins; a subclass says only what differs."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()
    Params: ClassVar[type[MethodParams]] = MethodParams

    def __init__(self, params: MethodParams | Mapping[str, Any] | None = None, /, **hyper: Any):
        """Validate hyperparameters: a ``Params`` instance, a mapping, keywords, or defaults."""
        self.params = validate_hyperparameters(self.Params, params, hyper, "method", self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"

    # -- backbone compatibility --------------------------------------------------------
    def split_point(self, backbone: Backbone) -> str | None:
        """The split stage: ``params.split_after`` if the method has it, else the backbone's."""
        return getattr(self.params, "split_after", None) or backbone.split_point

    def check(self, backbone: Backbone) -> None:
        """Raise :class:`IncompatibleBackboneError` if ``backbone`` lacks what ``requires`` says."""
        bname = backbone.display_name()
        if "linear_head" in self.requires and backbone.head.class_weights is None:
            raise IncompatibleBackboneError(
                f"method '{self.name}' needs {REQUIREMENTS['linear_head']}, but backbone "
                f"'{bname}' ends in a '{backbone.head.kind}' head; use a backbone with a "
                "GAP + linear head (e.g. vgg16, resnet50, tiny; `wsolkit list backbones`)."
            )
        if "split_point" in self.requires:
            split = self.split_point(backbone)
            names = backbone.stage_names
            if split is None or split not in names[:-1]:
                what = "declares none" if split is None else f"has no inner stage '{split}'"
                raise IncompatibleBackboneError(
                    f"method '{self.name}' needs {REQUIREMENTS['split_point']}; backbone "
                    f"'{bname}' {what}: set method.split_after to one of {', '.join(names[:-1])}."
                )

    def build(self, backbone: Backbone) -> WsolModel:
        """Check ``backbone`` and return the model to train (it owns ``backbone``)."""
        self.check(backbone)
        return self.make_model(backbone)

    def make_model(self, backbone: Backbone) -> WsolModel:
        """The model; the default is the backbone alone."""
        return WsolModel(backbone)

    # -- training ------------------------------------------------------------------------
    def prepare_batch(
        self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Targets]:
        """Input-level augmentation before the forward pass; the identity by default."""
        return images, Targets(labels)

    def losses(
        self,
        outputs: Mapping[str, Tensor],
        targets: Targets,
        *,
        epoch: int = 0,
        warm_epochs: int = 0,
    ) -> dict[str, Tensor]:
        """Every loss term by name plus their weighted sum ``"total"``; CE by default.

        ``epoch`` is 0-indexed; methods with a warm-up add some terms only once
        ``epoch >= warm_epochs`` (the trainer's ``optim.warm_epochs``).
        """
        ce = classification_loss(outputs["logits"], targets)
        return {"total": ce, "ce": ce}

    # -- inference ----------------------------------------------------------------------
    def cams(
        self, model: nn.Module, images: Tensor, classes: Tensor | None = None, *, topk: int = 1
    ) -> CamResult:
        """Logits and raw CAMs of ``classes`` (B or B×k; default top-``topk``), one forward."""
        return unwrap(model).cams(images, classes, topk=topk)

    # -- description ------------------------------------------------------------------
    @classmethod
    def hyperparameters(cls) -> list[dict[str, Any]]:
        """The ``Params`` schema: name, type, default, range, description of each field."""
        return hyperparameter_rows(cls.Params)

    @classmethod
    def plugin_details(cls) -> dict[str, Any]:
        """What ``wsolkit list methods --json`` shows: requirements and hyperparameters."""
        return {
            "requires": {r: REQUIREMENTS[r] for r in sorted(cls.requires)},
            "hyperparameters": cls.hyperparameters(),
        }
