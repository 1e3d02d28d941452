"""Shared by the checkpoint-import tests: the table cases, reference-named state dicts, containers."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from wsolkit.checkpoints import FORMATS, Layout, target_shapes
from wsolkit.checkpoints.rules import invert_rules
from wsolkit.methods import WsolModel
from wsolkit.registry import backbones, methods

NUM_CLASSES = 5

# Every (format, layout, method) the tables support: the parameter list of the table tests.
CASES = [
    pytest.param(
        name,
        layout,
        method,
        id=f"{name}-{layout.backbone}-{method}-{'28' if layout.large_feature_map else '14'}",
    )
    for name, fmt in FORMATS.items()
    for layout in fmt.layouts
    for method in layout.methods
]


def wsolkit_state(layout: Layout, method: str, num_classes: int = NUM_CLASSES) -> dict[str, Tensor]:
    """wsolkit's model state dict for ``layout`` with cheap, distinct values in every tensor.

    Each tensor is its key's own offset plus a count along the last dimension,
    expanded (no memory): a key routed to the wrong place, even one of the same
    shape, changes the values.
    """
    shapes = target_shapes(layout.backbone, method, bool(layout.large_feature_map), num_classes)
    state = {}
    for index, (key, shape) in enumerate(shapes.items()):
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(index, dtype=torch.long)
        else:
            row = torch.arange(shape[-1], dtype=torch.float32) + 1000.0 * index
            state[key] = row.expand(shape)
    return state


def container(fmt: str, reference: dict[str, Tensor], backbone: str) -> dict[str, object]:
    """The dict each reference trainer saves, around a reference-named state dict.

    wsolevaluation: ``{'architecture', 'epoch', 'state_dict', 'optimizer'}``;
    bridging-gap: ``{'state_dict'}``; TS-CAM: ``{'epoch', 'state_dict', 'best_map'}`` with
    ``module.`` keys; DA-WSOL: extractor and classifier state dicts
    (the ``extractor.`` / ``classifier.`` prefixes of the tables removed) and optimizers.
    """
    if fmt == "wsolevaluation":
        return {
            "architecture": backbone,
            "epoch": 40,
            "state_dict": reference,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        }
    if fmt == "bridging-gap":
        return {"state_dict": reference}
    if fmt == "ts-cam":  # saved from nn.DataParallel: every key starts with "module."
        state = {f"module.{key}": value for key, value in reference.items()}
        return {"epoch": 60, "state_dict": state, "best_map": 87.7}
    parts = {"extractor": {}, "classifier": {}}
    for key, value in reference.items():
        part, _, rest = key.partition(".")
        parts[part][rest] = value
    return {
        "architecture": backbone,
        "epoch": 10,
        "state_dict_extractor": parts["extractor"],
        "optimizer_extractor": {"state": {}, "param_groups": []},
        "state_dict_classifier": parts["classifier"],
        "optimizer_classifier": {"state": {}, "param_groups": []},
    }


def reference_state(
    layout: Layout, method: str, state: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """``state`` (default: :func:`wsolkit_state`) in the reference's key names, by the table."""
    return invert_rules(state or wsolkit_state(layout, method), layout.rules)


def meta_model(
    backbone: str, method: str, large_feature_map: bool, num_classes: int = NUM_CLASSES
) -> WsolModel:
    """wsolkit's model on the meta device (no memory, no initialization); load with assign."""
    backbone_cls, method_cls = backbones.load(backbone), methods.load(method)
    with torch.device("meta"):
        net = backbone_cls(
            num_classes=num_classes, weights="none", large_feature_map=large_feature_map
        )
        return method_cls().build(net)
