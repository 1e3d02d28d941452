"""Class activation maps (Zhou et al., CVPR 2016) from a feature map and class weights."""

from __future__ import annotations

import torch
from torch import Tensor


def class_activation_map(features: Tensor, class_weights: Tensor, labels: Tensor) -> Tensor:
    """Raw CAMs: the channel mean of ``w_y[c] · F[c]`` for each requested class ``y``.

    ``CAM_y(h, w) = (1 / C) · Σ_c w_y[c] · F[c, h, w]`` — the linear classifier
    applied at every position, without its bias. The ``1 / C`` scale of the
    reference implementations is kept; it vanishes in min-max normalization.

    Args:
        features: B×C×H×W, the last feature map before global average pooling.
        class_weights: K×C, the weight of the linear classifier (``fc.weight``).
        labels: B (one class per image, e.g. the ground truth) or B×k (k classes
            per image, e.g. the top-k predictions); integer class indices.

    Returns:
        B×H×W for ``labels`` of shape B, B×k×H×W for ``labels`` of shape B×k.

    The products are averaged over channels in the reference implementations'
    order of operations (``(w_y[:, None, None] * F).mean(0)``), so the CAMs equal
    theirs bit for bit; it needs a B×C×H×W temporary per requested class.
    """
    if features.dim() != 4:
        raise ValueError(f"features must be B×C×H×W, got shape {tuple(features.shape)}")
    if class_weights.dim() != 2 or class_weights.shape[1] != features.shape[1]:
        raise ValueError(
            f"class_weights must be K×C with C = {features.shape[1]}, "
            f"got shape {tuple(class_weights.shape)}"
        )
    if labels.dim() not in (1, 2) or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"labels must be B or B×k with B = {features.shape[0]}, got shape {tuple(labels.shape)}"
        )
    single = labels.dim() == 1
    weights = class_weights[labels.view(labels.shape[0], -1)].to(features.dtype)  # B×k×C
    cams = [(weights[:, j, :, None, None] * features).mean(dim=1) for j in range(weights.shape[1])]
    return cams[0] if single else torch.stack(cams, dim=1)
