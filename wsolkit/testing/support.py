"""Shared pieces of the conformance checks: failure messages, seeding, plugins, reports."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch
from torch import nn

from wsolkit.backbones import Backbone
from wsolkit.extractors import ScoreMapExtractor
from wsolkit.methods import WsolMethod
from wsolkit.registry import backbones, extractors, methods

BUILTIN_PACKAGE = "wsolkit"


@dataclass(frozen=True)
class Subject:
    """What is being checked, for the first words of every failure message."""

    label: str

    def fail(self, message: str) -> NoReturn:
        """Raise ``AssertionError("wsolkit.testing: <label>: <message>")``."""
        raise AssertionError(f"wsolkit.testing: {self.label}: {message}")

    def expect(self, condition: object, message: str) -> None:
        """``fail(message)`` unless ``condition`` holds; unlike ``assert``, kept under ``-O``."""
        if not condition:
            self.fail(message)

    def within(self, context: str) -> Subject:
        """The same subject with more context (``backbone 'x' [large_feature_map=True]``)."""
        return Subject(f"{self.label} [{context}]")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global CPU RNG for the block and restore the caller's state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def resolve_backbone(backbone: str | type[Backbone]) -> tuple[type[Backbone], str]:
    """The backbone class (loaded from the registry when a name is given) and its label."""
    if isinstance(backbone, str):
        cls = backbones.load(backbone)
        return cls, f"backbone '{backbone}'"
    if not isinstance(backbone, type):
        raise TypeError(
            f"pass a registered backbone name or a Backbone subclass, got {type(backbone).__name__}"
        )
    return backbone, f"backbone '{getattr(backbone, 'name', '') or backbone.__name__}'"


def resolve_method(method: str | type[WsolMethod]) -> tuple[type[WsolMethod], str]:
    """The method class (loaded from the registry when a name is given) and its label."""
    if isinstance(method, str):
        return methods.load(method), f"method '{method}'"
    if not isinstance(method, type):
        raise TypeError(
            f"pass a registered method name or a WsolMethod subclass, got {type(method).__name__}"
        )
    return method, f"method '{getattr(method, 'name', '') or method.__name__}'"


def resolve_extractor(
    extractor: str | type[ScoreMapExtractor],
) -> tuple[type[ScoreMapExtractor], str]:
    """The extractor class (loaded from the registry when a name is given) and its label."""
    if isinstance(extractor, str):
        return extractors.load(extractor), f"extractor '{extractor}'"
    if not isinstance(extractor, type):
        raise TypeError(
            "pass a registered extractor name or a ScoreMapExtractor subclass, "
            f"got {type(extractor).__name__}"
        )
    return extractor, f"extractor '{getattr(extractor, 'name', '') or extractor.__name__}'"


def builtin_extractors() -> list[str]:
    """wsolkit's own registered score-map extractors, sorted."""
    return [n for n in extractors.names() if extractors.package_of(n) == BUILTIN_PACKAGE]


def builtin_methods() -> list[str]:
    """wsolkit's own registered methods, one name per class (no aliases such as bridging-gap)."""
    names, seen = [], set()
    for name in methods.names():
        if methods.package_of(name) != BUILTIN_PACKAGE:
            continue
        cls = methods.load(name)
        if id(cls) in seen or cls.name != name:
            continue
        seen.add(id(cls))
        names.append(name)
    return names


def parameter_ids(module: nn.Module) -> set[int]:
    """``id`` of every parameter of ``module``."""
    return {id(p) for p in module.parameters()}


@dataclass(frozen=True)
class StepResult:
    """One training step and one CAM inference of a method on a backbone."""

    losses: dict[str, float]
    feature_size: tuple[int, int]
    cam_size: tuple[int, int]


@dataclass(frozen=True)
class MethodOutcome:
    """How one method fared on a backbone: ``status`` is "ok" or "incompatible"."""

    method: str
    status: str
    losses: dict[str, float] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class BackboneReport:
    """What :func:`~wsolkit.testing.check_backbone` verified."""

    backbone: str
    stages: dict[bool, tuple[str, ...]]
    feature_sizes: dict[bool, tuple[int, int]]
    loaded_keys: int
    methods: dict[str, MethodOutcome]

    @property
    def compatible(self) -> list[str]:
        """The methods that trained on the backbone."""
        return [m for m, o in self.methods.items() if o.status == "ok"]

    @property
    def incompatible(self) -> list[str]:
        """The methods that refused the backbone with ``IncompatibleBackboneError``."""
        return [m for m, o in self.methods.items() if o.status == "incompatible"]


@dataclass(frozen=True)
class MethodReport:
    """What :func:`~wsolkit.testing.check_method` verified."""

    method: str
    backbone: str
    losses: dict[str, float]
    feature_size: tuple[int, int]
    cam_size: tuple[int, int]
    hyperparameters: tuple[str, ...]


@dataclass(frozen=True)
class ExtractorReport:
    """What :func:`~wsolkit.testing.check_extractor` verified.

    ``map_sizes`` maps each stage checked (``None``: the default stage) to the (h, w) of
    its maps at the input size; ``inner_stage`` is the inner stage checked, or ``None``
    when the extractor refused it with a ``StageError`` (``cam`` does).
    """

    extractor: str
    backbone: str
    method: str
    needs_gradients: bool
    default_stage: str | None
    inner_stage: str | None
    map_sizes: dict[str | None, tuple[int, int]]
    hyperparameters: tuple[str, ...]


def describe(value: Any) -> str:
    """A short text for a value in a failure message (tensor shapes instead of contents)."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    return repr(value)
