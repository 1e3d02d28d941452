"""The score-map extractor interface: post-hoc maps from a trained model, apart from its method.

A training method (:class:`~wsolkit.methods.WsolMethod`) says how a model learns
and what its own CAM is; an extractor says how a score map is read from a
trained model afterwards (the method's CAM, Grad-CAM and its family, BagCAMs).
The export engine calls ``extractor.extract(method, model, images, classes,
stage=...)`` where it would call ``method.cams(model, images, classes)``.

Maps are read at a STAGE of the backbone (its ``stage_names``; a group prefix
such as ``layer3`` means the last stage named ``layer3.*``); ``None`` is the
final feature map. The activations ``A`` of the stage come from
``backbone.forward_stages(images, through=stage)``, read as a map through
``backbone.stage_map(stage, ·)`` (the identity for CNNs; a vision transformer's
tokens become its patch map), and the logits from
``backbone.head(backbone.forward_stages(A, after=stage))``: the eval-mode
inference path of every built-in method (ADL's layers are the identity in eval;
ACoL and SPG install their own head on a truncated backbone).
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.errors import UsageError
from wsolkit.methods.base import WsolMethod, hyperparameter_rows, validate_hyperparameters
from wsolkit.methods.model import CamResult, unwrap

FINAL = "the final feature map"


class ExtractorParams(BaseModel):
    """Base of every extractor's hyperparameter model (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageError(UsageError):
    """A stage an extractor cannot read: unknown to the backbone, or not for this extractor."""


# -- stages ---------------------------------------------------------------------------------


def stage_groups(names: tuple[str, ...]) -> dict[str, str]:
    """``{group: its last stage}`` for each dotted prefix that is not itself a stage.

    ResNet50's ``layer3.0`` … ``layer3.5`` form the group ``layer3`` → ``layer3.5``.
    """
    groups: dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix not in names:
                groups[prefix] = name  # stages are in order: the last one wins
    return groups


def compact_stages(names: tuple[str, ...]) -> str:
    """The stage names with numbered runs shortened: ``stem, layer1.0…layer1.2, …``."""
    runs: list[list[str]] = []
    for name in names:
        match = re.fullmatch(r"(.*\.)(\d+)", name)
        last = runs[-1][-1] if runs else None
        previous = re.fullmatch(r"(.*\.)(\d+)", last) if last else None
        if (
            match
            and previous
            and match.group(1) == previous.group(1)
            and int(match.group(2)) == int(previous.group(2)) + 1
        ):
            runs[-1].append(name)
        else:
            runs.append([name])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}…{run[-1]}" for run in runs)


# -- helpers for extract() ------------------------------------------------------------------


def inference_backbone(model: nn.Module) -> Backbone:
    """The backbone of ``model`` (a ``WsolModel``, maybe DDP-wrapped), checked to be in eval mode.

    Raises:
        ValueError: in training mode, where BatchNorm would mix the images of a batch and
            update its running statistics (call ``model.eval()`` first).
    """
    inner = unwrap(model)
    if inner.training:
        raise ValueError("score-map extractors need the model in eval mode: call model.eval()")
    return inner.backbone


def class_index(classes: Tensor, batch: int, device: torch.device) -> Tensor:
    """``classes`` (B or B×k class indices) as a B×k int64 tensor on ``device``."""
    if classes.dim() not in (1, 2) or classes.shape[0] != batch:
        raise ValueError(
            f"classes must be B or B×k with B = {batch}, got shape {tuple(classes.shape)}"
        )
    return classes.reshape(batch, -1).to(device=device, dtype=torch.long)


@contextlib.contextmanager
def autograd_enabled() -> Iterator[None]:
    """Autograd on, even inside ``torch.inference_mode()`` or ``torch.no_grad()``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Autocast off: the map formulas run in the dtype of :func:`map_dtype`."""
    with torch.autocast(device.type, enabled=False):
        yield


def map_dtype(tensor: Tensor) -> torch.dtype:
    """float32, or float64 for a float64 model (the parity tests): never less than float32."""
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def stage_forward(backbone: Backbone, images: Tensor, stage: str) -> tuple[Tensor, Tensor]:
    """``(activations of stage as a B×C×h×w map, logits)`` without autograd (the
    gradient-free extractors); the map is ``backbone.stage_map`` of the stage's output."""
    with torch.no_grad():
        activations = backbone.forward_stages(images, through=stage)
        logits = backbone.head(backbone.forward_stages(activations, after=stage))
    return backbone.stage_map(stage, activations), logits


def probe_image(model: nn.Module, size: int) -> Tensor:
    """One zero image, 1×3×size×size, on the model's device and in its dtype."""
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    return torch.zeros(1, 3, size, size, device=device, dtype=dtype)


# -- the interface --------------------------------------------------------------------------


class ScoreMapExtractor:
    """Base class of extractor plugins: hyperparameters, stages, ``map_shape`` and ``extract``.

    A subclass sets ``name``, ``description``, ``needs_gradients`` (and ``Params``) and
    implements ``extract``; it overrides ``default_stage`` if it does not read the final
    feature map by default.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_gradients: ClassVar[bool] = False
    Params: ClassVar[type[ExtractorParams]] = ExtractorParams
    default_stage_text: ClassVar[str] = FINAL

    def __init__(
        self, params: ExtractorParams | Mapping[str, Any] | None = None, /, **hyper: Any
    ) -> None:
        """Validate hyperparameters: a ``Params`` instance, a mapping, keywords, or defaults."""
        self.params = validate_hyperparameters(self.Params, params, hyper, "extractor", self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"

    # -- stages ------------------------------------------------------------------------
    def default_stage(self, backbone: Backbone) -> str | None:
        """The stage read when none is given; ``None``: the final feature map."""
        return None

    def resolve_stage(self, backbone: Backbone, stage: str | None) -> str | None:
        """A stage name of ``backbone`` for ``stage`` (a stage, a group, or ``None``: the default).

        Raises:
            StageError: ``stage`` is neither a stage nor a group of ``backbone`` (one line
                naming the value, the extractor, the backbone, and the valid names).
        """
        if stage is None:
            return self.default_stage(backbone)
        names = backbone.stage_names
        if stage in names:
            return stage
        groups = stage_groups(names)
        if stage in groups:
            return groups[stage]
        hint = difflib.get_close_matches(stage, groups, n=1) or difflib.get_close_matches(
            stage, names, n=1
        )
        suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
        group_text = f"; groups (each its last stage): {', '.join(groups)}" if groups else ""
        default = self.default_stage(backbone)
        raise StageError(
            f"unknown stage '{stage}' for extractor '{self.name}' on backbone "
            f"'{backbone.display_name()}'.{suggestion} Its stages: {compact_stages(names)}"
            f"{group_text}; or leave the stage unset for "
            f"{repr(default) if default else FINAL}."
        )

    def target_stage(self, backbone: Backbone, stage: str | None) -> str:
        """The stage the maps are read at: :meth:`resolve_stage`, else the final one."""
        return self.resolve_stage(backbone, stage) or backbone.stage_names[-1]

    def map_shape(
        self, method: WsolMethod, model: nn.Module, size: int, stage: str | None
    ) -> tuple[int, int]:
        """``(h, w)`` of the maps :meth:`extract` returns for a size×size input (one probe)."""
        backbone = inference_backbone(model)
        resolved = self.target_stage(backbone, stage)
        with torch.no_grad():
            out = backbone.forward_stages(probe_image(model, size), through=resolved)
        out = backbone.stage_map(resolved, out)
        return int(out.shape[-2]), int(out.shape[-1])

    def extract(
        self,
        method: WsolMethod,
        model: nn.Module,
        images: Tensor,
        classes: Tensor,
        *,
        stage: str | None = None,
    ) -> CamResult:
        """Logits and raw score maps of ``classes`` (B or B×k) for ``images`` (B×3×H×W).

        Returns ``CamResult(logits B×K detached, maps B×k×h×w at the stage's resolution,
        not resized, not normalized, float32 (float64 for a float64 model), classes B×k)``.
        Works inside ``torch.inference_mode()``; the model stays in eval mode, no
        parameter's ``.grad`` changes, and everything stays on ``images.device``.
        """
        raise NotImplementedError

    # -- description -----------------------------------------------------------------
    @classmethod
    def hyperparameters(cls) -> list[dict[str, Any]]:
        """The ``Params`` schema in ``WsolMethod.hyperparameters``' format."""
        return hyperparameter_rows(cls.Params)

    @classmethod
    def plugin_details(cls) -> dict[str, Any]:
        """What ``wsolkit list extractors --json`` shows."""
        return {
            "needs_gradients": cls.needs_gradients,
            "default_stage": cls.default_stage_text,
            "hyperparameters": cls.hyperparameters(),
        }
