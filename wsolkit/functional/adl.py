"""Attention-based Dropout Layer (ADL; Choe & Shim, CVPR 2019) as pure functions."""

from __future__ import annotations

import torch
from torch import Tensor


def adl_importance_map(attention: Tensor) -> Tensor:
    """ADL's importance map ``sigmoid(A)``: B×1×H×W from the channel-mean map A."""
    return torch.sigmoid(attention)


def adl_drop_mask(attention: Tensor, gamma: float) -> Tensor:
    """ADL's drop mask: 1 where ``A < γ · max(A)`` (max per sample), else 0.

    Args:
        attention: B×1×H×W channel-mean map.
        gamma: drop threshold γ as a ratio of the per-sample maximum.

    Returns:
        B×1×H×W of 0/1 in ``attention.dtype``.
    """
    peak = attention.reshape(attention.shape[0], -1).max(dim=1).values
    return (attention < (peak * gamma).view(-1, 1, 1, 1)).to(attention.dtype)


def attention_based_dropout(
    features: Tensor,
    drop_rate: float,
    gamma: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """ADL in training: ``F × map`` with one map chosen for the whole batch.

    ``A = mean_c F[c]`` (B×1×H×W). One float32 uniform ``u`` is drawn per call
    (for the whole batch, on the CPU as in the reference); ``b = floor(u + drop_rate)``
    is 1 with probability ``drop_rate`` and picks the drop mask
    (:func:`adl_drop_mask`), otherwise the importance map
    (:func:`adl_importance_map`): ``map = (1 − b) · sigmoid(A) + b · drop_mask``.
    ADL is the identity at inference; call this only in training.

    Args:
        features: B×C×H×W.
        drop_rate: probability of using the drop mask (paper: 0.75).
        gamma: drop threshold γ (paper: 0.9).
        generator: optional CPU random generator (default: the global one).

    Returns:
        B×C×H×W.
    """
    if features.dim() != 4:
        raise ValueError(f"features must be B×C×H×W, got shape {tuple(features.shape)}")
    attention = features.mean(dim=1, keepdim=True)
    importance = adl_importance_map(attention)
    drop_mask = adl_drop_mask(attention, gamma)
    draw = torch.rand([], dtype=torch.float32, generator=generator)
    use_drop = torch.floor(draw + drop_rate)  # a CPU 0-dim tensor mixes with any device
    selected = (1.0 - use_drop) * importance + use_drop * drop_mask
    return features * selected
