"""``check_backbone``: does a backbone plugin keep the interface of docs/backbone-interface.md?"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from wsolkit.backbones import Backbone, Head, StageInfo
from wsolkit.errors import SettingsError
from wsolkit.methods import IncompatibleBackboneError, WsolMethod
from wsolkit.registry import methods as method_registry
from wsolkit.testing.steps import BATCH, check_parameter_groups, step_and_cams
from wsolkit.testing.support import (
    BackboneReport,
    MethodOutcome,
    Subject,
    builtin_methods,
    parameter_ids,
    resolve_backbone,
    seeded,
)
from wsolkit.testing.weights import check_weights

CONSTRUCTOR = {
    "num_classes": inspect.Parameter.empty,
    "large_feature_map": False,
    "weights": "none",
}


def check_class(subject: Subject, cls: type[Backbone], registered: str | None) -> None:
    """Class attributes, the keyword-only constructor, the stage tables and ``plugin_details``."""
    subject.expect(
        isinstance(cls, type) and issubclass(cls, Backbone),
        f"{cls!r} is not a subclass of wsolkit.backbones.Backbone",
    )
    subject.expect(cls.name, "the class attribute 'name' is empty")
    if registered is not None:
        subject.expect(
            cls.name == registered, f"registered as '{registered}' but its name is '{cls.name}'"
        )
    subject.expect(cls.description.strip(), "the class attribute 'description' is empty")
    params = inspect.signature(cls).parameters
    for pname, default in CONSTRUCTOR.items():
        p = params.get(pname)
        subject.expect(
            p is not None and p.kind is inspect.Parameter.KEYWORD_ONLY and p.default == default,
            f"the constructor must take keyword-only '{pname}'"
            + ("" if default is inspect.Parameter.empty else f" (default {default!r})"),
        )
    extra = [n for n, p in params.items() if n not in CONSTRUCTOR and p.default is p.empty]
    subject.expect(not extra, f"the constructor has other required parameters: {extra}")
    for large in (False, True):
        s = subject.within(f"stage_table(large_feature_map={large})")
        table = cls.stage_table(large)
        s.expect(
            isinstance(table, tuple) and table and all(isinstance(t, StageInfo) for t in table),
            "must be a non-empty tuple of StageInfo",
        )
        names = [t.name for t in table]
        s.expect(len(set(names)) == len(names), f"stage names repeat: {names}")
        for t in table:
            s.expect(
                t.channels > 0 and t.reduction > 0, f"stage '{t.name}': channels/reduction <= 0"
            )
        split = cls.default_split_point
        s.expect(
            split is None or split in names[:-1],
            f"split point {split!r} is not an inner stage (one of {', '.join(names[:-1])})",
        )
        unknown = [p for p in cls.default_adl_positions if p not in names]
        s.expect(not unknown, f"ADL positions {unknown} are not stages ({', '.join(names)})")
    try:
        json.dumps(cls.plugin_details())
    except (TypeError, ValueError) as exc:
        subject.fail(f"plugin_details() is not JSON-serializable: {exc}")


def _run_stages(subject: Subject, net: Backbone, images: Tensor) -> Tensor:
    """Run every stage in turn, checking its output against its declared channels and stride."""
    size = images.shape[-1]
    x = images
    for info in net.stages:
        module = net.stage(info.name)
        subject.expect(
            isinstance(module, nn.Module), f"stage('{info.name}') is not an nn.Module: {module!r}"
        )
        foreign = parameter_ids(module) - parameter_ids(net)
        subject.expect(
            not foreign, f"stage('{info.name}') has parameters that are not the backbone's"
        )
        x = module(x)  # what the next stage takes (a transformer's tokens)
        mapped = net.stage_map(info.name, x) if isinstance(x, Tensor) else x
        sides = {size // info.reduction, -(-size // info.reduction)}
        subject.expect(
            isinstance(mapped, Tensor) and mapped.dim() == 4,
            f"stage '{info.name}' returned {type(mapped).__name__}, not a B×C×H×W tensor "
            "(through stage_map)",
        )
        subject.expect(
            mapped.shape[1] == info.channels,
            f"stage '{info.name}' declares {info.channels} channels, its output has "
            f"{mapped.shape[1]} (input {tuple(images.shape)})",
        )
        subject.expect(
            mapped.shape[2] in sides and mapped.shape[3] in sides,
            f"stage '{info.name}' declares reduction {info.reduction} ({min(sides)}×{min(sides)} "
            f"at {size} px input), its output is {mapped.shape[2]}×{mapped.shape[3]}",
        )
    return net.stage_map(net.stages[-1].name, x)


def _check_head(subject: Subject, net: Backbone, features: Tensor, num_classes: int) -> None:
    head = net.head
    subject.expect(isinstance(head, Head), f"head is {type(head).__name__}, not a wsolkit Head")
    subject.expect(head.num_classes == num_classes, f"head.num_classes is {head.num_classes}")
    subject.expect(head.kind == net.head_kind(), f"head.kind {head.kind!r} != head_kind()")
    weights = head.class_weights
    if weights is not None:
        subject.expect(
            tuple(weights.shape) == (num_classes, net.feature_channels),
            f"head.class_weights has shape {tuple(weights.shape)}, expected "
            f"({num_classes}, {net.feature_channels}) (K × feature channels)",
        )
        subject.expect(
            id(weights) in parameter_ids(net), "head.class_weights is not a backbone parameter"
        )
    logits = head(features)
    subject.expect(
        logits.shape == (BATCH, num_classes),
        f"head(F) has shape {tuple(logits.shape)}, expected ({BATCH}, {num_classes})",
    )
    classes = torch.tensor([[0, num_classes - 1]] * BATCH)
    maps = head.class_maps(features, classes)
    expected = (BATCH, 2, *features.shape[-2:])
    subject.expect(
        tuple(maps.shape) == expected,
        f"head.class_maps(F, B×2 classes) has shape {tuple(maps.shape)}, expected {expected}",
    )


def check_structure(
    subject: Subject, cls: type[Backbone], *, large: bool, input_size: int, num_classes: int
) -> tuple[int, int]:
    """Build, run every stage, compare the declarations, the head and forward paths."""
    net = cls(num_classes=num_classes, large_feature_map=large, weights="none").eval()
    subject.expect(isinstance(net, Backbone), f"the constructor built {type(net).__name__}")
    subject.expect(
        net.stages == cls.stage_table(large), "the instance's stages differ from stage_table()"
    )
    subject.expect(net.num_classes == num_classes, f"num_classes is {net.num_classes}")
    subject.expect(net.large_feature_map == large, "large_feature_map was not kept")
    subject.expect(
        (net.feature_channels, net.feature_reduction)
        == (net.stages[-1].channels, net.stages[-1].reduction),
        "feature_channels / feature_reduction differ from the last stage's",
    )
    stage_ids = (parameter_ids(net.stage(s)) for s in net.stage_names)
    covered = set().union(parameter_ids(net.head), *stage_ids)
    orphans = [n for n, p in net.named_parameters() if id(p) not in covered]
    subject.expect(not orphans, f"parameters in no stage and not in the head: {orphans[:5]}")
    images = torch.randn(BATCH, 3, input_size, input_size)
    with torch.no_grad():
        staged = _run_stages(subject, net, images)
        features = net.forward_features(images)
        subject.expect(
            features.shape == staged.shape and torch.allclose(features, staged, atol=1e-5),
            "forward_features(x) differs from running the stages one after the other",
        )
        logits = net(images)
        subject.expect(
            torch.allclose(logits, net.head(features), atol=1e-5),
            "forward(x) differs from head(forward_features(x))",
        )
        _check_head(subject, net, features, num_classes)
        split = net.split_point
        if split is not None:
            f1 = net.forward_stages(images, through=split)
            subject.expect(
                torch.allclose(net.forward_stages(f1, after=split), features, atol=1e-5),
                f"forward_stages(forward_stages(x, through='{split}'), after='{split}') differs "
                "from forward_features(x)",
            )
    check_parameter_groups(subject, net)
    return features.shape[-2], features.shape[-1]


def _missing_requirements(method: WsolMethod, net: Backbone) -> list[str]:
    missing = []
    if "linear_head" in method.requires and net.head.class_weights is None:
        missing.append("linear_head")
    if "split_point" in method.requires and method.split_point(net) not in net.stage_names[:-1]:
        missing.append("split_point")
    if "adl_positions" in method.requires and not net.adl_positions:
        missing.append("adl_positions")
    return missing


def check_with_method(
    subject: Subject, cls: type[Backbone], method_name: str, *, input_size: int, num_classes: int
) -> MethodOutcome:
    """Build ``method`` on a fresh backbone; a refusal must be justified, a model must train."""
    s = subject.within(f"method '{method_name}'")
    method = method_registry.create(method_name)
    with seeded(0):
        net = cls(num_classes=num_classes, large_feature_map=False, weights="none")
    missing = _missing_requirements(method, net)
    try:
        model = method.build(net)
    except IncompatibleBackboneError as exc:
        s.expect(
            missing,
            f"the method refused the backbone although it offers everything the method "
            f"requires ({', '.join(sorted(method.requires)) or 'nothing'}): {exc}",
        )
        return MethodOutcome(method_name, "incompatible", message=str(exc))
    s.expect(
        not missing,
        f"the backbone lacks {missing} but build() did not raise IncompatibleBackboneError",
    )
    s.expect(model.backbone is net, "method.build(backbone).backbone is not that backbone")
    with seeded(0):
        result = step_and_cams(
            s, method, model, input_size=input_size, num_classes=num_classes, seed=0
        )
    return MethodOutcome(method_name, "ok", result.losses)


def _feature_map_sizes(subject: Subject, cls: type[Backbone], num_classes: int) -> list[bool]:
    """Both ``large_feature_map`` values, or only False for a backbone with one size, whose
    constructor must then refuse True with a ``SettingsError`` (one line for the user)."""
    if cls.supports_large_feature_map:
        return [False, True]
    try:
        cls(num_classes=num_classes, large_feature_map=True, weights="none")
    except SettingsError as exc:
        subject.expect(
            "large_feature_map" in str(exc), f"the refusal does not name the setting: {exc}"
        )
    else:
        subject.fail(
            "supports_large_feature_map is False but the constructor accepted "
            "large_feature_map=True"
        )
    return [False]


def check_backbone(
    backbone: str | type[Backbone],
    *,
    input_size: int = 64,
    num_classes: int = 5,
    methods: Iterable[str] | None = None,
    expect_incompatible: Iterable[str] | None = None,
    expected_feature_size: int | None = None,
    expected_feature_size_large: int | None = None,
    reference_state_dict: Callable[[], Mapping[str, Tensor]] | None = None,
    skip_weights: bool = False,
) -> BackboneReport:
    """Check a backbone against the plugin interface; raise ``AssertionError`` on the first problem.

    Checks: class attributes and the keyword-only constructor; ``stage_table``,
    split point and ADL positions (both feature-map sizes); each stage's output
    channels and stride against its declaration at ``input_size``; every parameter
    in a stage or the head; ``forward_features`` / ``forward_stages`` / ``forward`` /
    head shapes and ``class_maps``; parameter groups of both recipes (every parameter
    exactly once); weights (unless ``skip_weights``: state-dict round trip, a missing-key error,
    ``reference_state_dict`` — e.g. ``lambda: torchvision.models.x().state_dict()`` —
    loading in place, ``"imagenet"`` from the cache or a clear error); and a training
    step plus CAMs with each method (default: wsolkit's built-ins), where a method
    that cannot host the backbone must raise ``IncompatibleBackboneError`` for a
    requirement the backbone really lacks. ``expect_incompatible`` pins the set of
    refusing methods; ``expected_feature_size(_large)`` the side of F at ``input_size``.

    Example::

        report = check_backbone("mobilenet_v3_large", expected_feature_size=4)
        assert report.incompatible == []
    """
    cls, label = resolve_backbone(backbone)
    subject = Subject(label)
    check_class(subject, cls, backbone if isinstance(backbone, str) else None)
    stages, sizes = {}, {}
    for large in _feature_map_sizes(subject, cls, num_classes):
        with seeded(0):
            sizes[large] = check_structure(
                subject.within(f"large_feature_map={large}"),
                cls,
                large=large,
                input_size=input_size,
                num_classes=num_classes,
            )
        stages[large] = tuple(s.name for s in cls.stage_table(large))
    for large, expected in ((False, expected_feature_size), (True, expected_feature_size_large)):
        if large not in sizes:
            continue
        subject.expect(
            expected is None or sizes[large] == (expected, expected),
            f"the final feature map at {input_size} px (large_feature_map={large}) is "
            f"{sizes[large][0]}×{sizes[large][1]}, expected {expected}×{expected}",
        )
    loaded = 0
    if not skip_weights:
        loaded = check_weights(
            subject, cls, num_classes=num_classes, reference=reference_state_dict
        )
    names = builtin_methods() if methods is None else list(methods)
    outcomes = {
        m: check_with_method(subject, cls, m, input_size=input_size, num_classes=num_classes)
        for m in names
    }
    report = BackboneReport(cls.name, stages, sizes, loaded, outcomes)
    if expect_incompatible is not None:
        subject.expect(
            sorted(report.incompatible) == sorted(expect_incompatible),
            f"methods refusing the backbone: {report.incompatible}, expected "
            f"{sorted(expect_incompatible)}",
        )
    return report
