"""Class attention maps: a class's score map, min-max normalized per sample (ACoL, SPG).

ACoL erases where branch A's attention is high; SPG turns the main branch's
attention into its guidance masks. Both take the map of one class per sample
and stretch it to [0, 1] (wsolevaluation ``wsol/method/util.py``:
``normalize_tensor``, ``get_attention``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def normalize_maps(maps: Tensor) -> Tensor:
    """Min-max normalize every map over its positions: ``(M − min M) / (max M − min M)``.

    There is no epsilon, as in the reference: a constant map becomes NaN (the
    evaluator turns a score map holding a NaN into zeros, SPEC.md §2.2).

    Args:
        maps: B×K×H×W, K maps per sample (each normalized on its own).

    Returns:
        B×K×H×W, each map in [0, 1].
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must be B×K×H×W, got shape {tuple(maps.shape)}")
    flat = maps.reshape(maps.shape[0], maps.shape[1], -1)
    low = flat.min(dim=-1, keepdim=True).values
    high = flat.max(dim=-1, keepdim=True).values
    return ((flat - low) / (high - low)).view_as(maps)


def select_maps(maps: Tensor, labels: Tensor) -> Tensor:
    """The map of each sample's class: ``maps[b, labels[b]]`` as B×1×H×W.

    Args:
        maps: B×K×H×W class maps.
        labels: B integer class indices.
    """
    if maps.dim() != 4 or labels.shape != (maps.shape[0],):
        raise ValueError(
            f"maps must be B×K×H×W and labels B, got shapes {tuple(maps.shape)} and "
            f"{tuple(labels.shape)}"
        )
    batch = torch.arange(maps.shape[0], device=maps.device)
    return maps[batch, labels.to(maps.device).long()].unsqueeze(1)


def class_attention(maps: Tensor, labels: Tensor) -> Tensor:
    """The normalized map of each sample's class, without gradient: B×1×H×W in [0, 1].

    ``A_b = normalize(M_b[labels[b]])`` (:func:`normalize_maps`), detached as in
    the reference (the attention steers erasing and guidance; it is not trained).

    Args:
        maps: B×K×H×W class maps (ACoL's branch A; SPG's class maps, upsampled).
        labels: B class indices (the ground truth in training).
    """
    return normalize_maps(select_maps(maps.detach(), labels))
