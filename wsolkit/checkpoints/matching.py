"""Which layouts a state dict fits: wsolkit's keys (built on the meta device), inverted.

A layout fits a state dict when the dict holds exactly the reference keys that
the layout's rules turn into wsolkit's model keys (besides keys a rule drops).
The reference keys are derived from wsolkit's keys by inverting the rules, so a
catch-all rule never lets another layout's keys through.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import torch
from torch import Tensor

from wsolkit import registry
from wsolkit.checkpoints.formats import FORMATS, Layout
from wsolkit.checkpoints.rules import invert_key, map_key
from wsolkit.checkpoints.source import SourceWeights


@functools.lru_cache(maxsize=64)
def target_shapes(
    backbone: str, method: str, large_feature_map: bool, num_classes: int
) -> Mapping[str, tuple[int, ...]]:
    """``{key: shape}`` of wsolkit's model state dict (built on the meta device: no memory)."""
    backbone_cls = registry.backbones.load(backbone)  # imports happen outside the meta device
    wsol_method = registry.methods.create(method)
    with torch.device("meta"):
        net = backbone_cls(
            num_classes=num_classes, weights="none", large_feature_map=large_feature_map
        )
        model = wsol_method.build(net)
    return MappingProxyType({key: tuple(value.shape) for key, value in model.state_dict().items()})


@functools.lru_cache(maxsize=64)
def expected_keys(layout: Layout, method: str | None = None) -> Mapping[str, str]:
    """``{reference key: wsolkit key}``: exactly the keys a file of ``layout`` holds.

    Derived from wsolkit's model keys by inverting the layout's rules, so a file
    must hold these keys and no others (besides keys a rule drops) — a catch-all
    rule does not let another layout's keys through.
    """
    target = target_shapes(
        layout.backbone, method or layout.methods[0], bool(layout.large_feature_map), 1
    )
    expected = {}
    for key in target:
        source = invert_key(key, layout.rules)
        if source is None:  # a table that cannot produce one of wsolkit's keys
            raise AssertionError(f"layout {layout.label()} has no rule producing '{key}'")
        expected[source] = key
    return MappingProxyType(expected)


def key_differences(
    state: Mapping[str, Tensor], layout: Layout, method: str | None = None
) -> tuple[list[str], list[str], list[str]]:
    """``(missing, unexpected, dropped)`` reference keys of ``state`` for ``layout``."""
    expected = expected_keys(layout, method)
    missing = [k for k in expected if k not in state]
    unexpected, dropped = [], []
    for key in state:
        if key not in expected:
            new, rule = map_key(key, layout.rules)
            (dropped if rule is not None and new is None else unexpected).append(key)
    return missing, unexpected, dropped


def matching_layouts(source: SourceWeights) -> list[tuple[str, Layout]]:
    """``(format, layout)`` of every known layout whose key names fit ``source`` exactly.

    Only key names are compared (the class count and shapes are :func:`convert`'s
    checks); vanilla CAM networks fit several formats and methods at once. Layouts of a
    backbone or method that is not installed (a plugin's, e.g. TS-CAM's ``deit_small``) are
    left out: their keys cannot be derived, and the file is not theirs to claim.
    """
    return [
        (name, layout)
        for name, fmt in FORMATS.items()
        for layout in fmt.layouts
        if installed(layout) and not any(key_differences(source.state, layout)[:2])
    ]


def installed(layout: Layout) -> bool:
    """Whether the layout's backbone and first method are registered here."""
    return layout.backbone in registry.backbones and layout.methods[0] in registry.methods


def fits_text(matches: list[tuple[str, Layout]]) -> str:
    """The end of a refusal: which ``--from`` format and layout the keys fit, if any."""
    if not matches:
        return "no known layout fits these keys"
    return "its keys fit " + "; ".join(f"--from {f} {layout.label()}" for f, layout in matches)
