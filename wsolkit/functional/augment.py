"""Input-level augmentations of WSOL methods: Hide-and-Seek grid erasing and CutMix.

Every random draw takes an optional ``torch.Generator`` (default: the global
one), so a seeded trainer reproduces its batches.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def _draw_device(generator: torch.Generator | None, fallback: torch.device) -> torch.device:
    return fallback if generator is None else generator.device


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return torch.device("cpu") if generator is None else generator.device


def hide_and_seek_mask(
    batch: int,
    height: int,
    width: int,
    grid_size: int,
    drop_rate: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Hide-and-Seek keep mask (Singh & Lee, ICCV 2017): True where pixels are kept.

    The image is cut into ``grid_size``×``grid_size``-pixel cells from the top-left
    corner (the last row/column of cells may be smaller); each cell of each image
    is hidden where its uniform draw ``u ≤ drop_rate``, independently.

    Args:
        batch, height, width: the image batch's size.
        grid_size: cell side in pixels (> 0).
        drop_rate: probability that a cell is hidden.
        generator: optional random generator (draws happen on its device).
        device: where the mask is returned.

    Returns:
        B×1×H×W boolean.
    """
    if grid_size <= 0:
        raise ValueError(f"grid_size must be > 0, got {grid_size}")
    cells_y, cells_x = math.ceil(height / grid_size), math.ceil(width / grid_size)
    device = torch.device(device)
    draw = torch.rand(
        (batch, 1, cells_y, cells_x), generator=generator, device=_draw_device(generator, device)
    ).to(device)
    keep = draw > drop_rate
    keep = keep.repeat_interleave(grid_size, dim=2).repeat_interleave(grid_size, dim=3)
    return keep[:, :, :height, :width]


def hide_and_seek(
    images: Tensor,
    grid_size: int,
    drop_rate: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Hide random grid cells of normalized images (set them to 0); ``grid_size`` 0 is a no-op.

    Args:
        images: B×C×H×W, already normalized (0 is the dataset mean).
        grid_size: cell side in pixels; 0 disables hiding.
        drop_rate: probability that a cell is hidden.
        generator: optional random generator.

    Returns:
        B×C×H×W, a new tensor (``images`` is not modified).
    """
    if grid_size == 0:
        return images
    b, _, h, w = images.shape
    keep = hide_and_seek_mask(b, h, w, grid_size, drop_rate, generator, images.device)
    return images * keep.to(images.dtype)


def sample_beta(beta: float, generator: torch.Generator | None = None) -> float:
    """One draw of Beta(β, β), seeded from ``generator`` (or the global torch RNG).

    torch's Beta distribution takes no generator, so a 63-bit seed drawn from the
    torch generator seeds a NumPy generator that draws the value.
    """
    seed = int(
        torch.randint(0, 2**63 - 1, (1,), generator=generator, device=_gen_device(generator))
    )
    return float(np.random.default_rng(seed).beta(beta, beta))


def cutmix_box(
    height: int, width: int, lam: float, generator: torch.Generator | None = None
) -> tuple[int, int, int, int]:
    """CutMix's box ``(y0, y1, x0, x1)`` (half-open) for mixing ratio ``lam``.

    Sides ``cut_h = int(H · √(1 − λ))`` and ``cut_w = int(W · √(1 − λ))``; the
    centre ``(cy, cx)`` is uniform over pixels; the box spans
    ``[c − cut // 2, c + cut // 2)`` on each axis, clipped to the image — the
    construction of the reference ``rand_bbox`` (an odd side loses one pixel).

    Args:
        height, width: image size.
        lam: mixing ratio λ in [0, 1] drawn from Beta(β, β).
        generator: optional random generator.

    Returns:
        ``(y0, y1, x0, x1)`` with ``0 ≤ y0 ≤ y1 ≤ H`` and ``0 ≤ x0 ≤ x1 ≤ W``.
    """
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    device = _gen_device(generator)
    cy = int(torch.randint(0, height, (1,), generator=generator, device=device))
    cx = int(torch.randint(0, width, (1,), generator=generator, device=device))

    def clip(v: int, hi: int) -> int:
        return min(max(v, 0), hi)

    y0, y1 = clip(cy - cut_h // 2, height), clip(cy + cut_h // 2, height)
    x0, x1 = clip(cx - cut_w // 2, width), clip(cx + cut_w // 2, width)
    return y0, y1, x0, x1


def cutmix(
    images: Tensor,
    labels: Tensor,
    beta: float,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor, float]:
    """CutMix (Yun et al., ICCV 2019): paste a box from a shuffled copy of the batch.

    ``λ ~ Beta(β, β)``; a random permutation pairs each image with another; the
    :func:`cutmix_box` region is copied from the partner; λ is then recomputed
    as ``1 − box area / (H · W)``, the share of each image that is its own.

    Args:
        images: B×C×H×W.
        labels: B, integer labels.
        beta: β > 0 of the Beta distribution.
        generator: optional random generator.

    Returns:
        ``(mixed images, labels_a, labels_b, lam)``: ``labels_a`` are the images'
        own labels, ``labels_b`` the partners'; train with
        :func:`mixed_cross_entropy`. ``images`` is not modified.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    b, _, h, w = images.shape
    lam = sample_beta(beta, generator)
    perm = torch.randperm(b, generator=generator, device=_draw_device(generator, images.device))
    perm = perm.to(images.device)
    y0, y1, x0, x1 = cutmix_box(h, w, lam, generator)
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = images[perm, :, y0:y1, x0:x1]
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    return mixed, labels, labels[perm], lam


def mixed_cross_entropy(logits: Tensor, labels_a: Tensor, labels_b: Tensor, lam: float) -> Tensor:
    """``λ · CE(logits, labels_a) + (1 − λ) · CE(logits, labels_b)`` (batch means)."""
    return F.cross_entropy(logits, labels_a) * lam + F.cross_entropy(logits, labels_b) * (1.0 - lam)
