from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from wsolkit.engine.sampling import EpochSampler, SeededDataset


class RandomItems(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int):
        return index, torch.rand(()).item()  # stands for a random crop/flip


def epoch_items(epoch: int, workers: int, rank: int = 0, world: int = 1):
    sampler = EpochSampler(10, seed=3, rank=rank, world_size=world)
    sampler.set_epoch(epoch)
    loader = DataLoader(
        SeededDataset(RandomItems()), sampler=sampler, batch_size=4, num_workers=workers
    )
    return [(int(i), float(r)) for idx, rnd in loader for i, r in zip(idx, rnd, strict=True)]


def test_order_and_augmentation_depend_only_on_seed_and_epoch() -> None:
    first = epoch_items(2, workers=0)
    assert first == epoch_items(2, workers=0)
    assert first == epoch_items(2, workers=2)  # workers do not change anything
    assert sorted(i for i, _ in first) == list(range(10))
    assert first != epoch_items(3, workers=0)


def test_ranks_split_one_permutation_with_padding() -> None:
    shards = [epoch_items(1, 0, rank, 3) for rank in range(3)]
    assert {len(s) for s in shards} == {4}
    seen = [i for s in shards for i, _ in s]
    assert set(seen) == set(range(10)) and len(seen) == 12
    unpadded = EpochSampler(10, seed=0, shuffle=False, rank=2, world_size=3, pad=False)
    assert [i for i, _ in unpadded] == [2, 5, 8] and len(unpadded) == 3
