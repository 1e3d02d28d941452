"""Backbones: trunks cut into named stages, a classifier head, parameter groups and weights.

Built-ins (``vgg16``, ``resnet50``, ``inception_v3``, ``tiny``) are registered
under the ``wsolkit.backbones`` entry-point group like any plugin; build one
with ``wsolkit.registry.backbones.create(name, num_classes=K, weights=...)``.
The interface is :class:`~wsolkit.backbones.base.Backbone`.
"""

from __future__ import annotations

from wsolkit.backbones.base import (
    GROUP_RECIPES,
    Backbone,
    ParameterGroups,
    StageInfo,
    initialize_weights,
)
from wsolkit.backbones.heads import ClassMapHead, Head, LinearHead
from wsolkit.backbones.weights import WeightsError

__all__ = [
    "GROUP_RECIPES",
    "Backbone",
    "ClassMapHead",
    "Head",
    "LinearHead",
    "ParameterGroups",
    "StageInfo",
    "WeightsError",
    "initialize_weights",
]
