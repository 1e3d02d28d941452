"""Epoch-seeded sampling: the data order AND the augmentation of every sample depend only
on ``(seed, epoch, sample)``, whatever the number of workers, their persistence, or a
resume in between.

:class:`EpochSampler` yields ``(index, sample_seed)`` pairs; :class:`SeededDataset`
seeds torch/Python/NumPy with ``sample_seed`` before the wrapped dataset draws its
random crop and flip. Under DDP each rank takes a strided shard of one shared
permutation, padded (training only) so that every rank runs the same number of steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from wsolkit.engine.rng import epoch_seed


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffled (or ordered) indices with per-sample seeds; call ``set_epoch`` each epoch."""

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation and sample seeds of ``epoch`` (0-indexed)."""
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        return torch.randperm(self.size, generator=g).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._order()
        if self.world_size > 1 and self.pad:
            total = len(self) * self.world_size
            order = (order * (total // max(len(order), 1) + 1))[:total]
        shard = order[self.rank :: self.world_size]
        base = epoch_seed(self.seed, self.epoch, 1_000_003)
        for index in shard:
            yield index, (base + index * 2_654_435_761) % (1 << 63)

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.size
        if self.pad:
            return -(-self.size // self.world_size)
        return len(range(self.rank, self.size, self.world_size))


class SeededDataset(Dataset):
    """Wraps a dataset so that ``ds[(index, seed)]`` draws its randomness from ``seed``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        # The CPU generator alone: torch.manual_seed would also seed every CUDA device
        # (hundreds of microseconds per sample), and transforms draw on the CPU.
        torch.random.default_generator.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % (1 << 32))
        return self.dataset[index]
