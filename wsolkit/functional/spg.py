"""SPG (Zhang et al., ECCV 2018): self-produced guidance masks and the losses on them.

Each auxiliary branch map is trained with binary cross-entropy against a mask
made from another map (wsolevaluation ``wsol/method/spg.py``):

- SPG-B2 against the main branch's attention of the target class (thresholds 1h, 1l),
- SPG-B1 against ``sigmoid(B2)`` (2h, 2l),
- SPG-C against the fused guidance ``(sigmoid(B1) + sigmoid(B2)) / 2`` (3h, 3l).

All maps are first upsampled bilinearly to the input size (224 in the reference,
which hard-codes it); the masks never carry gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from wsolkit.functional.attention import normalize_maps, select_maps

IGNORE = 255.0  # mask value of positions that are neither object nor background
MIN_FOREGROUND = 30  # fewer positions above the high threshold: use the fallback ratio
FALLBACK_RATIO = 0.7  # fallback foreground: above this share of the sample's maximum


def upsample_maps(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear upsampling to ``size`` (``align_corners=False``, as ``nn.Upsample``): B×C×h×w."""
    return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)


def spg_guidance_mask(attention: Tensor, high: float, low: float) -> Tensor:
    """SPG's mask: 1 (object), 0 (background) or ``IGNORE`` (255) at each position.

    Foreground: ``attention > high``; for a sample with fewer than 30 such
    positions, ``attention > 0.7 · max(attention)`` instead. Background:
    ``attention < low``, which wins where both hold. The rest is ignored.

    Args:
        attention: B×1×H×W (a normalized attention, or a sigmoid, in [0, 1]).
        high: foreground threshold (``spg_threshold_Nh``).
        low: background threshold (``spg_threshold_Nl``).

    Returns:
        B×1×H×W in ``attention.dtype`` with values in {0, 1, 255}.
    """
    if attention.dim() != 4 or attention.shape[1] != 1:
        raise ValueError(f"attention must be B×1×H×W, got shape {tuple(attention.shape)}")
    flat = attention.detach().reshape(attention.shape[0], -1)
    few = (flat > high).sum(dim=1) < MIN_FOREGROUND
    fixed = torch.full_like(few, high, dtype=flat.dtype)
    cut = torch.where(few, flat.amax(dim=1) * FALLBACK_RATIO, fixed).view(-1, 1, 1, 1)
    mask = torch.full_like(attention, IGNORE).masked_fill(attention > cut, 1.0)
    return mask.masked_fill(attention < low, 0.0).detach()


def spg_mask_loss(logits: Tensor, mask: Tensor) -> Tensor:
    """Binary cross-entropy with logits over the positions the mask labels (0 or 1).

    The mean runs over every labelled position of the batch together. A batch
    without any labelled position gives 0 (the reference's mean over nothing is NaN).

    Args:
        logits: B×1×H×W branch logits at the mask's size.
        mask: B×1×H×W from :func:`spg_guidance_mask`.
    """
    if logits.shape != mask.shape:
        raise ValueError(
            f"logits and mask must have one shape, got {tuple(logits.shape)} and "
            f"{tuple(mask.shape)}"
        )
    labelled = mask < IGNORE
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[labelled], mask[labelled])


def spg_losses(
    class_maps: Tensor,
    logits_b1: Tensor,
    logits_b2: Tensor,
    logits_c: Tensor,
    labels: Tensor,
    thresholds: Sequence[tuple[float, float]],
) -> dict[str, Tensor]:
    """The three guidance losses of SPG: ``{"spg_b2", "spg_b1", "spg_c"}``.

    - ``spg_b2 = BCE(B2, mask(A, h1, l1))``, A = the class attention: the class map
      of ``labels`` upsampled to the branches' size and min-max normalized;
    - ``spg_b1 = BCE(B1, mask(sigmoid(B2), h2, l2))``;
    - ``spg_c = BCE(C, mask((sigmoid(B1) + sigmoid(B2)) / 2, h3, l3))``.

    Args:
        class_maps: B×K×h×w, the main branch's class maps.
        logits_b1, logits_b2, logits_c: B×1×H×W branch logits, already upsampled to
            the input size H×W.
        labels: B class indices (the ground truth).
        thresholds: ``((h1, l1), (h2, l2), (h3, l3))``.
    """
    (h1, l1), (h2, l2), (h3, l3) = thresholds
    size = logits_b2.shape[-2:]
    attention = normalize_maps(upsample_maps(select_maps(class_maps.detach(), labels), size))
    b1, b2 = torch.sigmoid(logits_b1.detach()), torch.sigmoid(logits_b2.detach())
    return {
        "spg_b2": spg_mask_loss(logits_b2, spg_guidance_mask(attention, h1, l1)),
        "spg_b1": spg_mask_loss(logits_b1, spg_guidance_mask(b2, h2, l2)),
        "spg_c": spg_mask_loss(logits_c, spg_guidance_mask((b1 + b2) / 2.0, h3, l3)),
    }
