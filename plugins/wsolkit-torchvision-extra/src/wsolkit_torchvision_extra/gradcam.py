"""Grad-CAM as a wsolkit method: cross-entropy training, gradient-weighted maps at any stage.

Training is vanilla CAM's (cross-entropy only, on any backbone). Localization
differs: instead of the classifier applied at every position, the score map of
class c is Grad-CAM (Selvaraju et al., ICCV 2017) at a chosen stage A::

    α_k = mean_ij ∂y_c/∂A_kij,    L_c = ReLU(Σ_k α_k · A_k)

It works with any head (linear or class-map) and at inner stages, where the
CAM formula does not apply. At the final feature map of a GAP + linear head it
equals ReLU(CAM) up to a positive factor, so its min-max normalized map is
CAM's with the negative evidence clipped to zero.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn
from wsolkit.backbones import Backbone
from wsolkit.methods import (
    CamResult,
    IncompatibleBackboneError,
    MethodParams,
    WsolMethod,
    unwrap,
)

from wsolkit_torchvision_extra.functional import grad_cam


class GradCAMParams(MethodParams):
    """Grad-CAM hyperparameters (they change the score maps only, not training)."""

    stage: str | None = Field(
        None,
        description="Stage whose output is explained; empty: the final feature map "
        "(with a GAP + linear head this equals ReLU(CAM) up to a positive factor).",
    )
    relu: bool = Field(
        True,
        description="Keep positive evidence only (Grad-CAM's ReLU); false: the signed map.",
    )


class GradCAM(WsolMethod):
    """Grad-CAM: cross-entropy training; score map = ReLU(Σ_k mean(∂y_c/∂A_k) · A_k)."""

    name = "grad-cam"
    description = (
        "Grad-CAM (Selvaraju et al., ICCV 2017): cross-entropy training; gradient-weighted "
        "score maps at any stage, for any head (wsolkit-torchvision-extra)."
    )
    Params = GradCAMParams
    params: GradCAMParams

    def check(self, backbone: Backbone) -> None:
        """``params.stage``, when set, must be one of the backbone's stages."""
        super().check(backbone)
        stage = self.params.stage
        if stage is not None and stage not in backbone.stage_names:
            raise IncompatibleBackboneError(
                f"method '{self.name}' explains stage '{stage}', but backbone "
                f"'{backbone.display_name()}' has no such stage: set method.stage to one of "
                f"{', '.join(backbone.stage_names)} (or leave it empty for the final feature map)."
            )

    def cams(
        self, model: nn.Module, images: Tensor, classes: Tensor | None = None, *, topk: int = 1
    ) -> CamResult:
        """Logits and Grad-CAM maps B×k×h×w of ``classes`` (B or B×k; default top-``topk``).

        Gradients are needed, so this works under ``torch.no_grad()`` and
        ``torch.inference_mode()`` too (it re-enables autograd locally; no
        parameter's ``.grad`` is touched). Call it in eval mode, as every
        method's ``cams``: the images of a batch must not interact (BatchNorm).
        """
        backbone = unwrap(model).backbone
        stage = self.params.stage or backbone.stage_names[-1]
        with torch.inference_mode(False), torch.enable_grad():
            with torch.no_grad():
                activations = backbone.forward_stages(images.clone(), through=stage)
            activations = activations.detach().requires_grad_(True)
            logits = backbone.head(backbone.forward_stages(activations, after=stage))
            if classes is None:
                index = logits.detach().topk(topk, dim=1).indices
            else:
                index = classes.view(classes.shape[0], -1).to(logits.device)
            maps = []
            for j in range(index.shape[1]):
                score = logits.gather(1, index[:, j : j + 1]).sum()
                (gradients,) = torch.autograd.grad(
                    score, activations, retain_graph=j + 1 < index.shape[1]
                )
                maps.append(grad_cam(activations.detach(), gradients, relu=self.params.relu))
        return CamResult(logits.detach(), torch.stack(maps, dim=1), index)
