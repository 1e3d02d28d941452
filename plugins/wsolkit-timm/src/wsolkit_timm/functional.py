"""The math of TS-CAM and of reading a vision transformer as maps: pure functions on tensors.

TS-CAM (Gao et al., ICCV 2021, vasgaowei/TS-CAM ``lib/models/deit.py``, ``TSCAM.forward``):
the patch tokens after the final norm are a C×h×w map, a 3×3 convolution turns it
into K class maps whose global average is the logits, and the CAM of class y is

    CAM_y = (Σ_l mean_heads A_l[cls → patches]) ⊙ M_y

with ``A_l`` the attention probabilities of block l (softmax(q·kᵀ/√d), before
attention dropout), summed over the blocks (not averaged, not rolled out) and
``M_y`` the class map, bias included and without a ReLU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def tokens_to_map(tokens: Tensor, num_prefix_tokens: int = 1) -> Tensor:
    """The patch tokens of a vision transformer as a map: B×(P+N)×C → B×C×h×w.

    The first ``num_prefix_tokens`` tokens (the class token) are dropped; the N
    patch tokens, in row-major order, fill a square h×w grid (N = h·w), as TS-CAM's
    ``torch.reshape(x_patch, [n, √p, √p, c]).permute([0, 3, 1, 2])``. Only a
    selection and a reshape: applied to a gradient with respect to the tokens, it
    gives the gradient with respect to the map.

    Raises:
        ValueError: ``tokens`` is not B×(P+N)×C with N a square number.
    """
    if tokens.dim() != 3 or tokens.shape[1] <= num_prefix_tokens:
        raise ValueError(
            f"tokens must be B×(P+N)×C with P = {num_prefix_tokens} prefix tokens and N > 0 "
            f"patch tokens, got shape {tuple(tokens.shape)}"
        )
    batch, count, channels = tokens.shape
    patches = count - num_prefix_tokens
    side = math.isqrt(patches)
    if side * side != patches:
        raise ValueError(
            f"the {patches} patch tokens of shape {tuple(tokens.shape)} do not form a square "
            "grid: give the transformer square inputs"
        )
    grid = tokens[:, num_prefix_tokens:].reshape(batch, side, side, channels)
    return grid.permute(0, 3, 1, 2).contiguous()


def class_token_attention(
    attentions: Tensor | Sequence[Tensor], num_prefix_tokens: int = 1
) -> Tensor:
    """TS-CAM's semantic-agnostic map: ``Σ_l mean_heads A_l[:, :, 0, P:]`` as B×h×w.

    Args:
        attentions: L×B×H×T×T (or a sequence of L tensors B×H×T×T): the attention
            probabilities of each block, rows the queries, T = P + h·w tokens.
        num_prefix_tokens: P; token 0 is the class token.

    Returns:
        B×h×w: the attention of the class token (query) to each patch token (key),
        averaged over the H heads, then summed over the L blocks, in TS-CAM's order
        of operations (``stack``, ``mean(dim=2)``, ``sum(0)``, ``[:, 0, 1:]``).
    """
    stacked = torch.stack(list(attentions)) if not isinstance(attentions, Tensor) else attentions
    if stacked.dim() != 5 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(f"attentions must be L×B×H×T×T, got shape {tuple(stacked.shape)}")
    summed = stacked.mean(dim=2).sum(dim=0)  # B×T×T
    row = summed[:, 0, num_prefix_tokens:]  # B×N
    side = math.isqrt(row.shape[1])
    if side * side != row.shape[1]:
        raise ValueError(f"the {row.shape[1]} patch tokens do not form a square grid")
    return row.reshape(row.shape[0], side, side)


def ts_cam(attentions: Tensor | Sequence[Tensor], class_maps: Tensor) -> Tensor:
    """TS-CAM: ``(Σ_l mean_heads A_l[cls → patches]) ⊙ M_y`` for each map ``M_y``.

    Args:
        attentions: L×B×H×T×T attention probabilities (see :func:`class_token_attention`).
        class_maps: B×k×h×w, the class maps of the requested classes (the head's 3×3
            convolution, bias included, no ReLU) with h·w = T − 1.

    Returns:
        B×k×h×w raw CAMs (not normalized; they may be negative where the class map is).
    """
    agnostic = class_token_attention(attentions)
    if class_maps.dim() != 4 or class_maps.shape[-2:] != agnostic.shape[-2:]:
        raise ValueError(
            f"class_maps must be B×k×{agnostic.shape[-2]}×{agnostic.shape[-1]} to match the "
            f"attention, got shape {tuple(class_maps.shape)}"
        )
    return agnostic[:, None].to(class_maps.dtype) * class_maps
