"""BagCAMs (Zhu et al., ECCV 2022) as its code computes them (zh460045050/BagCAMs).

Paper to code (``libs/cams/bagcams.py``, ``libs/cams/basic.py``, ``libs/inference.py``):

- the backward pass starts from ``logits.log()`` seeded with the one-hot of the
  class, so the gradient at the logits is ``one_hot / logits``
  (:meth:`BagCAMs.seed` builds exactly that seed, ``one_hot.div(logits)``);
- a legacy backward hook on every ``nn.ReLU`` returns ``relu(grad_in)``: negative
  gradients are clipped at every ReLU after the target layer. Here a
  :class:`ClipReluGradients` mode, active during the forward pass after the stage,
  registers a hook on the output of every ``relu`` call (``nn.ReLU``, ``F.relu``,
  ``torch.relu``, ``Tensor.relu`` and their in-place forms) that clamps its
  gradient at 0; ReLU's own backward then masks it, which gives
  ``clamp(g, 0)·1[x > 0] = relu(g·1[x > 0])`` exactly. Unlike the reference, this
  also reaches functional ReLUs (its InceptionV3's ``BasicConv2d`` calls ``F.relu``,
  which its hooks never see) and ReLUs inside the head (ACoL's, SPG's);
- map = ``Σ_c ReLU(mean_hw(1 + G⊙A) · G⊙A)`` at the target layer
  (:func:`wsolkit.functional.bagcams`);
- target layer: ``--target_layer layer3`` in ``run_test.sh`` (ResNet50's whole
  ``layer3``, wsolkit's stage ``layer3.5``; ``run_test_all.sh`` also tries
  layer1, layer2, layer4). Their scripts run no other architecture: elsewhere the
  default is the final feature map (:data:`PUBLISHED_STAGES`).

With ``published_pipeline=True``, :meth:`~BagCAMs.extract` returns what
``BagCAMs.generate`` returns: the map bilinearly upsampled (``align_corners=False``)
to the input size and min-max normalized per image, on the device — input-size
maps, which wsolevaluation's cubic resize then barely changes. The default
returns the raw stage-resolution map, like every extractor; the evaluator's
cubic resize and min-max normalization then differ from the reference's by
the bilinear step, so use the option to reproduce their numbers.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from wsolkit.backbones.base import Backbone
from wsolkit.extractors.base import ExtractorParams, full_precision, stage_groups
from wsolkit.extractors.gradients import GradientExtractor
from wsolkit.functional.posthoc import bagcams, upsample_minmax
from wsolkit.methods.base import WsolMethod

# Backbone → the stage BagCAMs' scripts read (a group means its last stage).
PUBLISHED_STAGES: dict[str, str] = {"resnet50": "layer3"}

_RELUS = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_})


def _clamp_negative(grad: Tensor) -> Tensor:
    return grad.clamp(min=0)


class ClipReluGradients(TorchFunctionMode):
    """While active, every ``relu`` output clips negative gradients flowing back into it."""

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in _RELUS and isinstance(out, Tensor) and out.requires_grad:
            out.register_hook(_clamp_negative)
        return out


class BagCAMsParams(ExtractorParams):
    """BagCAMs hyperparameters."""

    published_pipeline: bool = Field(
        False,
        description="Return BagCAMs' own input-size maps (bilinear upsampling, per-image "
        "min-max) to reproduce its numbers; default: the raw map at the stage's resolution.",
    )


class BagCAMs(GradientExtractor):
    """BagCAMs: regional localizers ``G⊙A`` weighted by ``1 + mean(G⊙A)``, clipped gradients."""

    name = "bagcams"
    description = (
        "BagCAMs (Zhu et al., ECCV 2022): Σ_c ReLU((1 + mean G⊙A)·G⊙A) with G of log(score), "
        "clipped at every ReLU; ResNet50: layer3."
    )
    Params = BagCAMsParams
    params: BagCAMsParams
    default_stage_text = (
        "resnet50: layer3 (its last block, layer3.5; BagCAMs' run_test.sh), "
        "other backbones: the final feature map"
    )
    formula = staticmethod(bagcams)

    def default_stage(self, backbone: Backbone) -> str | None:
        """:data:`PUBLISHED_STAGES` for the backbone, if it has that stage; else the final map."""
        stage = PUBLISHED_STAGES.get(backbone.display_name())
        if stage is None:
            return None
        if stage in backbone.stage_names:
            return stage
        return stage_groups(backbone.stage_names).get(stage)

    def seed(self, logits: Tensor, classes: Tensor) -> Tensor:
        """``one_hot.div(logits)``: the gradient of ``log`` of the class logit at the logits."""
        return super().seed(logits, classes).div(logits)

    def after_stage(self) -> contextlib.AbstractContextManager[None]:
        """Negative gradients clipped at every ReLU after the stage."""
        return ClipReluGradients()  # type: ignore[return-value]

    def maps(self, activations: Tensor, gradients: Tensor, images: Tensor) -> Tensor:
        """The raw maps, or with ``published_pipeline`` the reference's input-size maps."""
        maps = super().maps(activations, gradients, images)
        if self.params.published_pipeline:
            with full_precision(maps.device):
                maps = upsample_minmax(maps, tuple(images.shape[-2:]))
        return maps

    def map_shape(
        self, method: WsolMethod, model: nn.Module, size: int, stage: str | None
    ) -> tuple[int, int]:
        """The stage's resolution, or ``(size, size)`` with ``published_pipeline``."""
        shape = super().map_shape(method, model, size, stage)
        return (size, size) if self.params.published_pipeline else shape
