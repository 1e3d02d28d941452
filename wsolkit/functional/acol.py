"""ACoL (Zhang et al., CVPR 2018): adversarial complementary erasing between two classifiers.

Branch A's class maps give the attention of the target class; the positions where
it reaches the threshold are erased from the shared feature map before branch B,
which must then find the rest of the object (wsolevaluation ``wsol/method/acol.py``).
The localization map is the element-wise maximum of both branches' normalized maps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from wsolkit.functional.attention import normalize_maps, select_maps


def acol_erasing_mask(attention: Tensor, threshold: float) -> Tensor:
    """ACoL's erasing mask: 0 where ``attention ≥ threshold``, else 1 (note: not strict).

    Args:
        attention: B×1×H×W, branch A's normalized attention
            (:func:`~wsolkit.functional.class_attention`); a NaN erases nothing.
        threshold: ``acol_threshold`` in [0, 1] (wsolevaluation: 0.7).

    Returns:
        B×1×H×W of 0/1 in ``attention.dtype``.
    """
    if attention.dim() != 4 or attention.shape[1] != 1:
        raise ValueError(f"attention must be B×1×H×W, got shape {tuple(attention.shape)}")
    return (~(attention >= threshold)).to(attention.dtype)


def acol_erase(features: Tensor, attention: Tensor, threshold: float) -> Tensor:
    """Erased features ``F × acol_erasing_mask(attention, threshold)``: B×C×H×W.

    Args:
        features: B×C×H×W, the input of both classifiers.
        attention: B×1×H×W at the same resolution.
        threshold: erasing threshold in [0, 1].
    """
    if features.dim() != 4 or features.shape[-2:] != attention.shape[-2:]:
        raise ValueError(
            f"features must be B×C×H×W at the attention's size, got {tuple(features.shape)} "
            f"and {tuple(attention.shape)}"
        )
    return features * acol_erasing_mask(attention, threshold)


def acol_cam(maps_a: Tensor, maps_b: Tensor, labels: Tensor) -> Tensor:
    """ACoL's CAM: ``max(normalize(A_y), normalize(B_y))`` for each sample's class y.

    ``normalize`` is the per-map min-max of :func:`~wsolkit.functional.normalize_maps`
    (no epsilon: a constant map is NaN, and so is the maximum there, as in the reference).

    Args:
        maps_a: B×K×H×W, branch A's class maps.
        maps_b: B×K×H×W, branch B's class maps on the features erased for ``labels``.
        labels: B class indices.

    Returns:
        B×H×W in [0, 1].
    """
    if maps_a.shape != maps_b.shape:
        raise ValueError(
            f"maps_a and maps_b must have one shape, got {tuple(maps_a.shape)} and "
            f"{tuple(maps_b.shape)}"
        )
    a = normalize_maps(select_maps(maps_a, labels))
    b = normalize_maps(select_maps(maps_b, labels))
    return torch.max(a, b)[:, 0]
