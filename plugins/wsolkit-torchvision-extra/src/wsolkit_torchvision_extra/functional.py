"""Grad-CAM (Selvaraju et al., ICCV 2017) as a pure function of activations and gradients."""

from __future__ import annotations

import torch
from torch import Tensor


def grad_cam(activations: Tensor, gradients: Tensor, *, relu: bool = True) -> Tensor:
    """Grad-CAM maps from a stage's activations and the gradients of one class score.

    ``α[b, k] = (1 / (H·W)) · Σ_ij ∂y_c / ∂A[b, k, i, j]`` (the gradients
    global-average-pooled), then ``L[b] = ReLU(Σ_k α[b, k] · A[b, k])``; ``y_c`` is
    the pre-softmax score (logit) of the explained class. With ``relu=False`` the
    signed map ``Σ_k α[b, k] · A[b, k]`` is returned.

    At the final feature map of a GAP + linear head, ``∂y_c/∂F[k, i, j] = w_c[k] / (H·W)``,
    so Grad-CAM equals ``ReLU(C / (H·W) · CAM_c)``: CAM with negative evidence removed.

    Args:
        activations: B×C×H×W, the output A of the explained stage.
        gradients: B×C×H×W, ``∂y_c/∂A`` for each image's explained class.

    Returns:
        B×H×W maps, float32 (or float64 for float64 inputs), not normalized.
    """
    if activations.dim() != 4 or gradients.shape != activations.shape:
        raise ValueError(
            f"activations and gradients must both be B×C×H×W of one shape, got "
            f"{tuple(activations.shape)} and {tuple(gradients.shape)}"
        )
    dtype = torch.promote_types(activations.dtype, torch.float32)
    weights = gradients.to(dtype).mean(dim=(2, 3), keepdim=True)  # B×C×1×1
    maps = (weights * activations.to(dtype)).sum(dim=1)
    return maps.clamp_min(0) if relu else maps
