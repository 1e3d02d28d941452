"""HiResCAM (Draelos & Carin, 2020) as a pure function of activations and gradients."""

from __future__ import annotations

import torch
from torch import Tensor


def hires_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """HiResCAM maps from a stage's activations and the gradients of one class score.

    ``L[…, i, j] = ReLU(Σ_k ∂y_c/∂A[…, k, i, j] · A[…, k, i, j])``: every position keeps
    its own gradient, where Grad-CAM averages each channel's gradient over positions.
    ``y_c`` is the logit of the explained class. It is pytorch-grad-cam's ``HiResCAM`` map
    before its min-max scaling and resize (after its ReLU).

    At the final feature map of a GAP + linear head, ``∂y_c/∂F[k, i, j] = w_c[k] / (H·W)``
    for every position, so HiResCAM equals Grad-CAM there: ``ReLU(Σ_k w_c[k] F_k) / (H·W)``.

    Args:
        activations: …×C×H×W, the output A of the explained stage.
        gradients: …×C×H×W (broadcastable against ``activations``), ``∂y_c/∂A``.

    Returns:
        …×H×W maps in the inputs' dtype, not normalized.
    """
    if activations.dim() < 3 or gradients.dim() < 3:
        raise ValueError(
            f"activations and gradients must be …×C×H×W, got {tuple(activations.shape)} "
            f"and {tuple(gradients.shape)}"
        )
    return torch.relu((gradients * activations).sum(dim=-3))
