"""Feature erasing at a split point: EIL's hard mask and aligned EIL's attentive drop.

Both start from the channel-mean map ``M = mean_c F[c]`` (B×1×H×W) and mark
the positions with ``M > threshold · max(M)`` (strict, max per sample over
positions) as the most discriminative ones.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_features(features: Tensor) -> None:
    if features.dim() != 4:
        raise ValueError(f"features must be B×C×H×W, got shape {tuple(features.shape)}")


def discriminative_region(features: Tensor, threshold: float) -> Tensor:
    """Where the channel mean exceeds ``threshold`` times its per-sample maximum.

    ``M = mean_c F[c]``; returns ``M > threshold · max_{h,w} M`` (strict).

    Args:
        features: B×C×H×W.
        threshold: ratio of the per-sample maximum, usually in [0, 1].

    Returns:
        B×1×H×W boolean.
    """
    _check_features(features)
    attention = features.mean(dim=1, keepdim=True)
    peak = attention.amax(dim=(2, 3), keepdim=True)
    return attention > peak * threshold


def uniform_like_positions(features: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One float32 uniform draw in [0, 1) per (sample, position): B×1×H×W.

    With ``generator=None`` the draw comes from the default generator of
    ``features``' device, exactly as ``torch.rand_like(M, dtype=torch.float32)``
    does; a generator on another device draws there and the result is moved.
    """
    shape = (features.shape[0], 1, features.shape[2], features.shape[3])
    device = features.device if generator is None else generator.device
    draw = torch.rand(shape, dtype=torch.float32, device=device, generator=generator)
    return draw.to(features.device)


def attentive_drop_mask(
    features: Tensor,
    threshold: float,
    drop_prob: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Aligned EIL's attentive-drop mask: 0 where a candidate is dropped, else 1.

    Candidates are ``M > threshold · max(M)`` (see :func:`discriminative_region`);
    one float32 uniform ``u`` is drawn per (sample, position), shared by all
    channels, and a candidate is dropped where ``u ≤ drop_prob``.

    Args:
        features: B×C×H×W (F_u, the output of f1).
        threshold: drop threshold ratio in [0, 1] (paper: 0.8).
        drop_prob: probability that a candidate position is dropped (paper: 0.5 / 0.25).
        generator: optional random generator (default: the global one).

    Returns:
        B×1×H×W mask of 0/1 in ``features.dtype``.
    """
    candidates = discriminative_region(features, threshold)
    draw = uniform_like_positions(features, generator)
    dropped = candidates & (draw <= drop_prob)
    return (~dropped).to(features.dtype)


def attentive_drop(
    features: Tensor,
    threshold: float,
    drop_prob: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Erased features ``F_e = F_u × attentive_drop_mask(F_u, threshold, drop_prob)``.

    Args:
        features: B×C×H×W.
        threshold: drop threshold ratio in [0, 1].
        drop_prob: probability that a candidate position is dropped.
        generator: optional random generator (default: the global one).

    Returns:
        B×C×H×W.
    """
    return features * attentive_drop_mask(features, threshold, drop_prob, generator)


def eil_erasing_mask(features: Tensor, threshold: float) -> Tensor:
    """EIL's erasing mask: 0 where ``M > threshold · max(M)`` (per sample), else 1.

    Deterministic (Mai et al., CVPR 2020): every discriminative position is erased.

    Args:
        features: B×C×H×W (F_u, the output of f1).
        threshold: erasing threshold γ as a ratio of the per-sample maximum.

    Returns:
        B×1×H×W mask of 0/1 in ``features.dtype``.
    """
    return (~discriminative_region(features, threshold)).to(features.dtype)


def eil_erase(features: Tensor, threshold: float) -> Tensor:
    """EIL's erased features ``F_e = F_u × eil_erasing_mask(F_u, threshold)``: B×C×H×W."""
    return features * eil_erasing_mask(features, threshold)
