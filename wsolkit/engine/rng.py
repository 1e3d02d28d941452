"""Seeding, per rank.

Every epoch reseeds Python, NumPy and torch from ``(seed, epoch, rank)``, so the
data order and augmentation of an epoch depend on nothing but its position: a
run resumed at an epoch boundary replays exactly what the uninterrupted run
would have done. No generator state needs saving in checkpoints.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 63-bit seed for one (seed, epoch, rank), well mixed (SplitMix64 finalizer)."""
    x = seed * 0x9E3779B97F4A7C15 + (epoch + 1) * 0xBF58476D1CE4E5B9 + rank * 0x94D049BB133111EB
    x &= (1 << 64) - 1
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    x ^= x >> 27
    return x & ((1 << 63) - 1)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)
