"""Build the model, the optimizer and the data loaders of a run from its settings.

These are the only places where the engine meets the plugin interfaces
(:mod:`wsolkit.backbones`, :mod:`wsolkit.methods`) and the data layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from wsolkit.backbones import Backbone
from wsolkit.engine.distributed import DistInfo
from wsolkit.engine.sampling import EpochSampler, SeededDataset
from wsolkit.errors import UsageError
from wsolkit.methods import WsolMethod, WsolModel
from wsolkit.registry import backbones, methods
from wsolkit.settings import Settings
from wsolkit.settings.validate import method_params


@dataclass
class Built:
    """The method object, the model it built (not yet DDP-wrapped) and its backbone."""

    method: WsolMethod
    model: WsolModel
    backbone: Backbone


def build_model(settings: Settings, num_classes: int, *, weights: str | None = None) -> Built:
    """Backbone from the registry, method on top (``weights`` overrides model.weights)."""
    m = settings.model
    backbone = backbones.create(
        m.backbone,
        num_classes=num_classes,
        large_feature_map=m.large_feature_map,
        weights=m.weights if weights is None else weights,
    )
    method = methods.load(settings.method.name)(method_params(settings))
    model = method.build(backbone)
    return Built(method, model, backbone)


def build_optimizer(settings: Settings, built: Built) -> torch.optim.SGD:
    """SGD (Nesterov) with the pretrained group at ``lr`` and the new layers at ``lr × ratio``."""
    o = settings.optim
    # Parameters a method adds on top of the backbone count as new layers.
    groups = built.model.parameter_groups(o.classifier_groups)
    return torch.optim.SGD(
        groups.optimizer_groups(o.lr, o.lr_classifier_ratio),
        lr=o.lr,
        momentum=o.momentum,
        nesterov=o.nesterov and o.momentum > 0,
        weight_decay=o.weight_decay,
    )


def train_loader(
    dataset: Any, settings: Settings, dist_info: DistInfo, batch_size: int, pin: bool
) -> tuple[DataLoader, EpochSampler]:
    """A loader whose order and augmentation are fixed by ``(seed, epoch)`` (see sampling)."""
    from wsolkit.data.dataset import collate_skip_bad

    if settings.data.drop_last and batch_size * dist_info.world_size > len(dataset):
        raise UsageError(
            f"batch size {batch_size} × {dist_info.world_size} process(es) is larger than the "
            f"{len(dataset)} training images and data.drop_last is on: no batch would run; "
            "lower optim.batch_size / optim.warm_batch_size or set data.drop_last=false"
        )
    sampler = EpochSampler(
        len(dataset),
        seed=settings.runtime.seed,
        rank=dist_info.rank,
        world_size=dist_info.world_size,
    )
    workers = settings.runtime.workers
    loader = DataLoader(
        SeededDataset(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=settings.runtime.persistent_workers and workers > 0,
        pin_memory=pin,
        drop_last=settings.data.drop_last,
        collate_fn=collate_skip_bad,
    )
    return loader, sampler


def eval_loader(dataset: Any, settings: Settings, dist_info: DistInfo, pin: bool) -> DataLoader:
    """This rank's shard of an evaluation split, in order, without padding."""
    from wsolkit.data.dataset import collate_skip_bad

    sampler = EpochSampler(
        len(dataset),
        seed=0,
        shuffle=False,
        rank=dist_info.rank,
        world_size=dist_info.world_size,
        pad=False,
    )
    return DataLoader(
        SeededDataset(dataset),
        batch_size=max(settings.optim.batch_size, 1),
        sampler=sampler,
        num_workers=settings.runtime.workers,
        pin_memory=pin,
        collate_fn=collate_skip_bad,
    )
