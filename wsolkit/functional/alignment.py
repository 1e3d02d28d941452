"""The feature-direction alignment losses of aligned EIL (Kim et al., CVPR 2022).

CAM at a position equals ``‖F‖ · ‖w_y‖ · cos θ``. Aligned EIL pulls the
direction of high-norm features towards the class weight (``L_sim``) and
makes features aligned with some class weight large (``L_norm``); the erased
path adds an L1 consistency term (``L_drop``). Every function here follows the
paper's public code term by term (SPEC.md §4): min-max normalization with
``eps = 1e-15`` and gradients through the min and the max, masked means
``Σ mask · x / (Σ mask + 1e-15)``, cosine similarity via ``F.normalize``
(``eps = 1e-12``) and a 1×1 convolution, the fc bias unused.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

NormRegion = Literal["max", "target"]
NORM_REGIONS: tuple[str, ...] = ("max", "target")
MASK_EPS = 1e-15


def cosine_similarity_map(features: Tensor, class_weights: Tensor) -> Tensor:
    """Cosine similarity between each position's feature vector and each class weight.

    ``sim[b, k, h, w] = ⟨F[b, :, h, w] / ‖F[b, :, h, w]‖, w_k / ‖w_k‖⟩`` with each
    norm clamped below at 1e-12 (``F.normalize``), computed as a 1×1 convolution.

    Args:
        features: B×C×H×W.
        class_weights: K×C (the linear classifier's weight; its bias plays no part).

    Returns:
        B×K×H×W similarities in [-1, 1].
    """
    if features.dim() != 4 or class_weights.dim() != 2:
        raise ValueError(
            f"expected features B×C×H×W and class_weights K×C, got {tuple(features.shape)} "
            f"and {tuple(class_weights.shape)}"
        )
    unit_features = F.normalize(features, dim=1)
    unit_weights = F.normalize(class_weights, dim=1).to(unit_features.dtype)
    return F.conv2d(unit_features, unit_weights[:, :, None, None])


def minmax_normalize(values: Tensor, eps: float = MASK_EPS) -> Tensor:
    """Per-sample min-max normalization over every non-batch dimension.

    ``x̃ = (x − min x) / (max(x − min x) + eps)``; gradients flow through the
    min and the max (each to the single position ``torch.min``/``torch.max``
    pick, as in the reference). A constant sample becomes all zeros.

    Args:
        values: B×… (e.g. B×H×W feature norms).

    Returns:
        A tensor of the same shape with values in [0, 1].
    """
    flat = values.reshape(values.shape[0], -1)
    low = flat.min(dim=1).values
    shifted = flat - low[:, None]
    high = shifted.max(dim=1).values
    return (shifted / (high[:, None] + eps)).view_as(values)


def masked_mean(values: Tensor, mask: Tensor, eps: float = MASK_EPS) -> Tensor:
    """Mean of ``values`` over the positions where ``mask`` is 1, per sample.

    ``Σ mask · values / (Σ mask + eps)`` over dimension 1; an empty mask gives 0.

    Args:
        values: B×N.
        mask: B×N of 0/1 (float).

    Returns:
        B.
    """
    return (mask * values).sum(dim=1) / (mask.sum(dim=1) + eps)


def feature_alignment_loss_from_similarity(
    features: Tensor,
    similarity: Tensor,
    labels: Tensor,
    fg_threshold: float,
    bg_threshold: float,
    norm_region: NormRegion,
) -> tuple[Tensor, Tensor]:
    """``(L_sim, L_norm)`` from a precomputed :func:`cosine_similarity_map`.

    With ``ñ = minmax_normalize(‖F‖₂ over channels)`` and ``s = sim[y]``:

    - ``L_sim = mean_b [ mean_{ñ < bg_threshold} s − mean_{ñ > fg_threshold} s ]``
    - ``L_norm = mean_b [ mean_{r < 0} ñ − mean_{r > 0} ñ ]`` where ``r`` is
      ``max_k sim[k]`` (``norm_region="max"``, the paper's CUB setting) or ``s``
      (``"target"``, its ImageNet setting).

    Each inner mean is :func:`masked_mean` (an empty region contributes 0).
    Models that run under DistributedDataParallel compute ``similarity`` inside
    their ``forward`` (it touches the classifier weight) and call this function.

    Args:
        features: B×C×H×W, the final feature map F (unerased path).
        similarity: B×K×H×W, ``cosine_similarity_map(F, fc.weight)``.
        labels: B, integer target classes.
        fg_threshold: ``ñ`` above which a position is foreground for ``L_sim``.
        bg_threshold: ``ñ`` below which a position is background for ``L_sim``.
        norm_region: "max" or "target" (which similarity splits regions for ``L_norm``).

    Returns:
        ``(loss_sim, loss_norm)``, two scalars.
    """
    if norm_region not in NORM_REGIONS:
        raise ValueError(f"norm_region must be one of {NORM_REGIONS}, got {norm_region!r}")
    batch = labels.shape[0]
    norm = minmax_normalize(torch.norm(features, dim=1)).reshape(batch, -1)
    target_sim = similarity[torch.arange(batch, device=labels.device), labels].reshape(batch, -1)

    fg = (norm > fg_threshold).float()
    bg = (norm < bg_threshold).float()
    loss_sim = torch.mean(masked_mean(target_sim, bg) - masked_mean(target_sim, fg))

    # r: the max-over-classes similarity ("max") or the target-class one ("target")
    region = similarity.max(dim=1).values.reshape(batch, -1) if norm_region == "max" else target_sim
    aligned = (region > 0).float()
    opposed = (region < 0).float()
    loss_norm = torch.mean(masked_mean(norm, opposed) - masked_mean(norm, aligned))
    return loss_sim, loss_norm


def feature_alignment_loss(
    features: Tensor,
    class_weights: Tensor,
    labels: Tensor,
    fg_threshold: float,
    bg_threshold: float,
    norm_region: NormRegion,
) -> tuple[Tensor, Tensor]:
    """``(L_sim, L_norm)`` of aligned EIL (SPEC.md §4–§5).

    ``feature_alignment_loss_from_similarity(F, cosine_similarity_map(F, W), …)``;
    see there for the formulas.

    Args:
        features: B×C×H×W, the final feature map F.
        class_weights: K×C, the linear classifier's weight (no bias).
        labels: B, integer target classes.
        fg_threshold: foreground threshold on the min-max normalized feature norm.
        bg_threshold: background threshold on the min-max normalized feature norm.
        norm_region: "max" or "target".

    Returns:
        ``(loss_sim, loss_norm)``, two scalars.
    """
    similarity = cosine_similarity_map(features, class_weights)
    return feature_alignment_loss_from_similarity(
        features, similarity, labels, fg_threshold, bg_threshold, norm_region
    )


def drop_consistency_loss(features: Tensor, erased_features: Tensor) -> Tensor:
    """``L_drop = mean |F − F_e'|`` (``nn.L1Loss()``), gradients into both paths.

    Args:
        features: B×C×H×W, f2 of the unerased features.
        erased_features: B×C×H×W, f2 of the attentively dropped features.

    Returns:
        A scalar.
    """
    return F.l1_loss(features, erased_features)
