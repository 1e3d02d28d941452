"""Gradient-based extractors: Grad-CAM, Grad-CAM++, XGrad-CAM, LayerCAM (pytorch-grad-cam's maps).

:class:`GradientExtractor` runs the two halves of the network around the stage:
the activations ``A = forward_stages(images, through=stage)`` without autograd,
then the logits from a leaf copy of ``A`` with autograd on (also inside
``torch.inference_mode()``), and one ``torch.autograd.grad`` per requested class
(the seed is the one-hot of the class: the gradient of its logit, pytorch-grad-cam's
``ClassifierOutputTarget``). Only ``A`` receives gradients: no parameter's ``.grad``
changes. ``A`` and each gradient are read as maps through ``backbone.stage_map``
(a vision transformer's tokens → its patch map, as pytorch-grad-cam's
``reshape_transform`` does for both). Each subclass names the formula of
:mod:`wsolkit.functional.posthoc`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.extractors.base import (
    ScoreMapExtractor,
    autograd_enabled,
    class_index,
    full_precision,
    inference_backbone,
    map_dtype,
)
from wsolkit.functional.posthoc import grad_cam, grad_cam_plus_plus, layer_cam, xgrad_cam
from wsolkit.methods.base import WsolMethod
from wsolkit.methods.model import CamResult


class GradientExtractor(ScoreMapExtractor):
    """Maps from a stage's activations and the gradients of a class score with respect to them.

    Subclasses set ``formula(activations, gradients) -> maps``; BagCAMs also changes
    the backward pass (:meth:`seed`, :meth:`after_stage`).
    """

    needs_gradients = True
    formula: ClassVar[Callable[[Tensor, Tensor], Tensor]]

    def seed(self, logits: Tensor, classes: Tensor) -> Tensor:
        """The gradient at the logits (B×K) for one class per image (B): its one-hot."""
        return torch.zeros_like(logits).scatter_(1, classes[:, None], 1.0)

    def after_stage(self) -> contextlib.AbstractContextManager[None]:
        """A context around the forward pass after the stage (nothing by default)."""
        return contextlib.nullcontext()

    def gradients(
        self, backbone: Backbone, images: Tensor, index: Tensor, stage: str
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(activations B×C×h×w, gradients B×k×C×h×w, logits B×K)``, all detached.

        Both are ``backbone.stage_map`` of the stage's output and of its gradient.
        """
        with autograd_enabled():
            with torch.no_grad():
                activations = backbone.forward_stages(images.clone(), through=stage)
            leaf = activations.detach().requires_grad_(True)
            with self.after_stage():
                # A copy, so that an in-place first operation after the stage leaves A alone.
                logits = backbone.head(backbone.forward_stages(leaf.clone(), after=stage))
            grads = []
            for j in range(index.shape[1]):
                seed = self.seed(logits.detach(), index[:, j])
                (grad,) = torch.autograd.grad(
                    logits, leaf, grad_outputs=seed, retain_graph=j + 1 < index.shape[1]
                )
                grads.append(backbone.stage_map(stage, grad))
        activations = backbone.stage_map(stage, leaf.detach())
        return activations, torch.stack(grads, dim=1), logits.detach()

    def maps(self, activations: Tensor, gradients: Tensor, images: Tensor) -> Tensor:
        """B×k×h×w maps from activations B×C×h×w and gradients B×k×C×h×w, in full precision."""
        dtype = map_dtype(activations)
        with full_precision(activations.device):
            return type(self).formula(activations.to(dtype)[:, None], gradients.to(dtype))

    def extract(
        self,
        method: WsolMethod,
        model: nn.Module,
        images: Tensor,
        classes: Tensor,
        *,
        stage: str | None = None,
    ) -> CamResult:
        """Logits and the maps of ``classes`` (B or B×k) at ``stage`` (default: its default)."""
        backbone = inference_backbone(model)
        resolved = self.target_stage(backbone, stage)
        index = class_index(classes, images.shape[0], images.device)
        activations, gradients, logits = self.gradients(backbone, images, index, resolved)
        return CamResult(logits, self.maps(activations, gradients, images), index)


class GradCAM(GradientExtractor):
    """Grad-CAM: channels weighted by their mean gradient."""

    name = "grad-cam"
    description = (
        "Grad-CAM (Selvaraju et al., ICCV 2017): ReLU(Σ_c mean(∂y/∂A_c)·A_c) at any stage; "
        "one backward pass per class."
    )
    formula = staticmethod(grad_cam)


class GradCAMPlusPlus(GradientExtractor):
    """Grad-CAM++: channels weighted by positive gradients with higher-order coefficients."""

    name = "grad-cam++"
    description = (
        "Grad-CAM++ (Chattopadhyay et al., WACV 2018): positive gradients weighted by "
        "G²/(2G² + ΣA·G³); pytorch-grad-cam's map."
    )
    formula = staticmethod(grad_cam_plus_plus)


class XGradCAM(GradientExtractor):
    """XGrad-CAM: channels weighted by their activation-normalized gradient."""

    name = "xgrad-cam"
    description = (
        "XGrad-CAM (Fu et al., BMVC 2020): channel weights Σ G·A / ΣA; pytorch-grad-cam's map."
    )
    formula = staticmethod(xgrad_cam)


class LayerCAM(GradientExtractor):
    """LayerCAM: each position weighted by its own positive gradient."""

    name = "layer-cam"
    description = (
        "LayerCAM (Jiang et al., TIP 2021): ReLU(Σ_c ReLU(G_c)⊙A_c), suited to early stages."
    )
    formula = staticmethod(layer_cam)
