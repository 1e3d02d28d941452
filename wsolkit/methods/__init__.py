"""WSOL methods: hyperparameters, the model a method trains, its losses and CAMs.

Built-ins (``cam``, ``has``, ``cutmix``, ``adl``, ``acol``, ``spg``, ``eil``,
``aligned-eil`` alias ``bridging-gap``) are registered under the ``wsolkit.methods`` entry-point
group like any plugin; the interface is :class:`~wsolkit.methods.base.WsolMethod`.
"""

from __future__ import annotations

from wsolkit.methods.base import (
    REQUIREMENTS,
    IncompatibleBackboneError,
    MethodParams,
    Targets,
    WsolMethod,
    classification_loss,
)
from wsolkit.methods.model import CamResult, WsolModel, unwrap

__all__ = [
    "REQUIREMENTS",
    "CamResult",
    "IncompatibleBackboneError",
    "MethodParams",
    "Targets",
    "WsolMethod",
    "WsolModel",
    "classification_loss",
    "unwrap",
]
