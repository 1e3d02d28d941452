"""Post-hoc score maps from a stage's activations (and gradients): the Grad-CAM family, BagCAMs.

Each function maps activations ``A`` (…×C×h×w) — and, for the gradient-based ones,
the gradients ``G = ∂s/∂A`` of a class score ``s`` (same shape, or broadcastable
against ``A``, e.g. ``A`` B×1×C×h×w with ``G`` B×k×C×h×w for k classes) — to raw
maps …×h×w at the stage's resolution: not resized, not normalized. ``Σ_c`` sums
over channels, ``mean_hw`` / ``Σ_hw`` over positions.

The definitions and their epsilons are pytorch-grad-cam 1.5.7's (``grad_cam.py``,
``grad_cam_plusplus.py``, ``xgrad_cam.py``, ``layer_cam.py``, ``score_cam.py``,
``eigen_cam.py``), taken at its raw map: after its ``np.maximum(cam, 0)``, before
its min-max scaling and resize. BagCAMs is Zhu et al. (ECCV 2022), as its code
``libs/cams/bagcams.py`` computes it. The functions compute in the dtype they are
given; callers that run under autocast pass float32 tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_SPATIAL = (-2, -1)


def _check_maps(name: str, activations: Tensor) -> None:
    if activations.dim() < 3:
        raise ValueError(f"{name} must be …×C×h×w, got shape {tuple(activations.shape)}")


def _check_pair(activations: Tensor, gradients: Tensor) -> None:
    _check_maps("activations", activations)
    _check_maps("gradients", gradients)
    try:
        torch.broadcast_shapes(activations.shape, gradients.shape)
    except RuntimeError:
        raise ValueError(
            f"activations {tuple(activations.shape)} and gradients {tuple(gradients.shape)} "
            "must have broadcastable shapes …×C×h×w"
        ) from None


def _weighted_sum(weights: Tensor, activations: Tensor) -> Tensor:
    """``ReLU(Σ_c w_c · A_c)`` for channel weights …×C (or …×C×1×1)."""
    if weights.dim() == activations.dim() - 2:
        weights = weights[..., None, None]
    return torch.relu((weights * activations).sum(dim=-3))


def grad_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Grad-CAM (Selvaraju et al., ICCV 2017): ``ReLU(Σ_c mean_hw(G_c) · A_c)``.

    Args:
        activations: …×C×h×w.
        gradients: …×C×h×w (broadcastable against ``activations``).

    Returns:
        …×h×w.
    """
    _check_pair(activations, gradients)
    return _weighted_sum(gradients.mean(dim=_SPATIAL), activations)


def grad_cam_plus_plus(activations: Tensor, gradients: Tensor, eps: float = 1e-6) -> Tensor:
    """Grad-CAM++ (Chattopadhyay et al., WACV 2018, eq. 19): ``ReLU(Σ_c w_c · A_c)`` with

    ``a = G² / (2 G² + Σ_hw(A_c) · G³ + eps)`` (0 where ``G = 0``) and
    ``w_c = Σ_hw ReLU(G) · a``, the second and third derivatives of ``exp(s)``
    written with the first, as pytorch-grad-cam does (``eps = 1e-6``).

    Args:
        activations: …×C×h×w.
        gradients: …×C×h×w (broadcastable against ``activations``).

    Returns:
        …×h×w.
    """
    _check_pair(activations, gradients)
    g2 = gradients**2
    g3 = g2 * gradients
    sum_a = activations.sum(dim=_SPATIAL, keepdim=True)
    alpha = g2 / (2 * g2 + sum_a * g3 + eps)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    weights = (torch.relu(gradients) * alpha).sum(dim=_SPATIAL)
    return _weighted_sum(weights, activations)


def xgrad_cam(activations: Tensor, gradients: Tensor, eps: float = 1e-7) -> Tensor:
    """XGrad-CAM (Fu et al., BMVC 2020): ``ReLU(Σ_c w_c · A_c)``, ``w_c = Σ_hw G·A / (Σ_hw A + ε)``.

    Args:
        activations: …×C×h×w.
        gradients: …×C×h×w (broadcastable against ``activations``).
        eps: pytorch-grad-cam's ``1e-7``.

    Returns:
        …×h×w.
    """
    _check_pair(activations, gradients)
    sum_a = activations.sum(dim=_SPATIAL, keepdim=True)
    weights = (gradients * activations / (sum_a + eps)).sum(dim=_SPATIAL)
    return _weighted_sum(weights, activations)


def layer_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """LayerCAM (Jiang et al., TIP 2021): ``ReLU(Σ_c ReLU(G_c) ⊙ A_c)``, position by position.

    Args:
        activations: …×C×h×w.
        gradients: …×C×h×w (broadcastable against ``activations``).

    Returns:
        …×h×w.
    """
    _check_pair(activations, gradients)
    return torch.relu((torch.relu(gradients) * activations).sum(dim=-3))


def bagcams(activations: Tensor, gradients: Tensor) -> Tensor:
    """BagCAMs (Zhu et al., ECCV 2022): ``Σ_c ReLU(mean_hw(1 + G⊙A) · (G⊙A))``.

    Each position's regional localizer ``G⊙A`` is weighted by the image-level
    term ``1 + mean_hw(G⊙A)`` (computed as the reference does, the mean of
    ``G⊙A + 1``). ``G`` is BagCAMs' gradient — of ``log`` of the class score,
    with negative gradients clipped at every ReLU after the stage — which the
    caller computes (:class:`wsolkit.extractors.bagcams.BagCAMs`).

    Args:
        activations: …×C×h×w.
        gradients: …×C×h×w (broadcastable against ``activations``).

    Returns:
        …×h×w (non-negative).
    """
    _check_pair(activations, gradients)
    local = gradients * activations
    image = (local + 1).mean(dim=_SPATIAL, keepdim=True)
    return torch.relu(image * local).sum(dim=-3)


def score_cam_masks(activations: Tensor, size: tuple[int, int], eps: float = 1e-8) -> Tensor:
    """Score-CAM's input masks: each channel upsampled to ``size`` and min-max normalized.

    ``M_c = (U_c − min U_c) / (max U_c − min U_c + eps)`` with ``U_c`` the channel
    bilinearly upsampled with ``align_corners=True`` (pytorch-grad-cam's
    ``nn.UpsamplingBilinear2d``), ``eps = 1e-8``.

    Args:
        activations: N×C×h×w.
        size: (H, W), the input's size.

    Returns:
        N×C×H×W masks in [0, 1].
    """
    if activations.dim() != 4:
        raise ValueError(f"activations must be N×C×h×w, got shape {tuple(activations.shape)}")
    up = F.interpolate(activations, size=size, mode="bilinear", align_corners=True)
    flat = up.flatten(-2)
    low = flat.min(dim=-1).values[..., None, None]
    high = flat.max(dim=-1).values[..., None, None]
    return (up - low) / (high - low + eps)


def score_cam(activations: Tensor, scores: Tensor) -> Tensor:
    """Score-CAM (Wang et al., CVPRW 2020): ``ReLU(Σ_c softmax_c(s) · A_c)``.

    ``s_c`` is the class score of the input masked by channel c's
    :func:`score_cam_masks` (one forward pass per channel); the softmax runs
    over channels.

    Args:
        activations: …×C×h×w.
        scores: …×C (broadcastable against ``activations``' leading dims and C).

    Returns:
        …×h×w.
    """
    _check_maps("activations", activations)
    if scores.shape[-1] != activations.shape[-3]:
        raise ValueError(
            f"scores must be …×C with C = {activations.shape[-3]}, got {tuple(scores.shape)}"
        )
    return _weighted_sum(torch.softmax(scores, dim=-1), activations)


def principal_projection(activations: Tensor) -> Tensor:
    """Eigen-CAM's signed map: the positions projected on the first principal component.

    ``X`` (hw×C: positions × channels, NaN set to 0) is centred over positions,
    ``X̄ = X − mean_hw X``; with ``v`` the first right singular vector of ``X̄``,
    the map is ``X̄ v`` (pytorch-grad-cam's ``get_2d_projection``).

    The SVD fixes ``v`` only up to its sign, which differs between backends. The
    sign here is chosen so that the map correlates positively with the channel
    sum of the activations: ``Σ_p (X̄ v)_p · (Σ_c X̄_pc) ≥ 0``, which equals
    ``σ₁² Σ_c v_c``, so the rule is ``Σ_c v_c ≥ 0`` (an exact 0 keeps the SVD's sign).

    Args:
        activations: …×C×h×w.

    Returns:
        …×h×w.
    """
    _check_maps("activations", activations)
    *lead, channels, h, w = activations.shape
    x = torch.nan_to_num(activations, nan=0.0).flatten(-2).transpose(-1, -2)  # …×hw×C
    centred = x - x.mean(dim=-2, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    projection = centred @ vh[..., 0, :, None]  # …×hw×1
    correlation = (projection[..., 0] * centred.sum(dim=-1)).sum(dim=-1)
    sign = torch.where(correlation < 0, -1.0, 1.0).to(projection.dtype)
    return (projection[..., 0] * sign[..., None]).reshape(*lead, h, w)


def eigen_cam(activations: Tensor) -> Tensor:
    """Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): ``ReLU(principal_projection(A))``.

    Class-agnostic: no gradients, the same map for every class.

    Args:
        activations: …×C×h×w.

    Returns:
        …×h×w.
    """
    return torch.relu(principal_projection(activations))


def upsample_minmax(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """BagCAMs' own post-processing: bilinear upsampling to ``size``, per-map min-max to [0, 1].

    ``M' = (U − min U) / max(U − min U)`` with ``U`` the map upsampled with
    ``align_corners=False`` (``libs/cams/bagcams.py``). A constant map becomes
    zeros, decided before the upsampling, whose rounding would otherwise be
    stretched to [0, 1] (the reference divides by 0 for an exactly constant map,
    and its ``normalize_scoremap`` then replaces the NaN map by zeros).

    Args:
        maps: B×k×h×w.
        size: (H, W).

    Returns:
        B×k×H×W in [0, 1].
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must be B×k×h×w, got shape {tuple(maps.shape)}")
    source = maps.flatten(-2)
    varies = source.max(dim=-1).values > source.min(dim=-1).values  # B×k
    up = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    flat = up.flatten(-2)
    flat = flat - flat.min(dim=-1, keepdim=True).values
    high = flat.max(dim=-1, keepdim=True).values
    keep = varies[..., None] & (high > 0)
    flat = torch.where(keep, flat / torch.where(keep, high, 1), 0.0)
    return flat.view_as(up)
