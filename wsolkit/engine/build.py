"""Build the model, the optimizer and the data loaders of a run from its settings.

These are the only places where the engine meets the plugin interfaces
(:mod:`wsolkit.backbones`, :mod:`wsolkit.methods`) and the data layer.
"""

from __future__ import annotations

import inspect
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
    extra: dict[str, Any] = {}
    if m.drop_path_rate > 0:  # only backbones that have stochastic depth take it
        cls = backbones.load(m.backbone)
        if "drop_path_rate" not in inspect.signature(cls).parameters:
            raise UsageError(
                f"model.drop_path_rate = {m.drop_path_rate}: backbone '{m.backbone}' has no "
                "stochastic depth (drop path); set it to 0"
            )
        extra["drop_path_rate"] = m.drop_path_rate
    backbone = backbones.create(
        m.backbone,
        num_classes=num_classes,
        large_feature_map=m.large_feature_map,
        weights=m.weights if weights is None else weights,
        **extra,
    )
    method = methods.load(settings.method.name)(method_params(settings))
    model = method.build(backbone)
    return Built(method, model, backbone)


def build_optimizer(settings: Settings, built: Built) -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW, the pretrained group at ``lr``, the new layers at
    ``lr × ratio``.

    AdamW splits each group in two, the second without weight decay: biases, every
    one-dimensional parameter (norms), and the names the backbone's ``no_weight_decay()``
    lists (position embeddings, class tokens) — timm's convention.
    """
    o = settings.optim
    # Parameters a method adds on top of the backbone count as new layers.
    groups = built.model.parameter_groups(o.classifier_groups)
    if o.optimizer == "adamw":
        skip = no_weight_decay_names(built.backbone)
        param_groups = []
        for name, pairs, lr in (
            ("pretrained", groups.pretrained, o.lr),
            ("new", groups.new, o.lr * o.lr_classifier_ratio),
        ):
            exempt = [_exempt(n, p, skip) for n, p in pairs]
            decay = [p for (_, p), e in zip(pairs, exempt, strict=True) if not e]
            free = [p for (_, p), e in zip(pairs, exempt, strict=True) if e]
            param_groups.append({"params": decay, "lr": lr, "name": name})
            param_groups.append(
                {"params": free, "lr": lr, "weight_decay": 0.0, "name": f"{name}_no_decay"}
            )
        return torch.optim.AdamW(
            param_groups, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
    return torch.optim.SGD(
        groups.optimizer_groups(o.lr, o.lr_classifier_ratio),
        lr=o.lr,
        momentum=o.momentum,
        nesterov=o.nesterov and o.momentum > 0,
        weight_decay=o.weight_decay,
    )


def no_weight_decay_names(backbone: Any) -> set[str]:
    """The parameter names a backbone exempts from weight decay (timm's ``no_weight_decay``)."""
    names = getattr(backbone, "no_weight_decay", None)
    return set(names()) if callable(names) else set()


def _exempt(name: str, param: torch.nn.Parameter, skip: set[str]) -> bool:
    if param.ndim <= 1 or name.endswith(".bias"):
        return True
    return any(name == s or name.endswith("." + s) for s in skip)


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
    loader = DataLoader(
        SeededDataset(dataset),
        batch_size=batch_size,
        sampler=sampler,
        pin_memory=pin,
        drop_last=settings.data.drop_last,
        collate_fn=collate_skip_bad,
        **worker_options(settings, dist_info.local_world_size, persistent=True),
    )
    return loader, sampler


def default_workers(local_world_size: int = 1) -> int:
    """Loader workers per process when ``runtime.workers`` is unset: the cores available to
    this process divided among the processes of the node, at most 8; none (load in the main
    process) when that leaves fewer than 2 cores per process."""
    from wsolkit.engine.rundata import available_cores

    share = available_cores() // max(1, local_world_size)
    return min(share, 8) if share >= 2 else 0


def worker_options(
    settings: Settings, local_world_size: int = 1, *, persistent: bool = False
) -> dict[str, Any]:
    """``num_workers``, ``persistent_workers`` and ``prefetch_factor`` of a DataLoader."""
    r = settings.runtime
    workers = r.workers if r.workers is not None else default_workers(local_world_size)
    if workers == 0:
        return {"num_workers": 0}
    return {
        "num_workers": workers,
        "persistent_workers": persistent and r.persistent_workers,
        "prefetch_factor": r.prefetch_factor,
    }


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
        pin_memory=pin,
        collate_fn=collate_skip_bad,
        **worker_options(settings, dist_info.local_world_size, persistent=True),
    )
