"""Weight-loading checks: state-dict round trip, a missing key, a reference file, ``imagenet``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import Tensor

from wsolkit.backbones import Backbone, WeightsError
from wsolkit.backbones.weights import cached_file
from wsolkit.testing.support import Subject, seeded


def _build(cls: type[Backbone], num_classes: int, large: bool, weights: str | Path) -> Backbone:
    return cls(num_classes=num_classes, large_feature_map=large, weights=weights)


def check_round_trip(
    subject: Subject, cls: type[Backbone], *, num_classes: int, large: bool, folder: Path
) -> int:
    """A saved ``state_dict()`` loads back (``weights=PATH``) into a fresh backbone, every tensor.

    Returns the number of keys loaded.
    """
    with seeded(1):
        source = _build(cls, num_classes, large, "none")
    subject.expect(source.loaded_keys == [], "weights='none' must load nothing (loaded_keys)")
    required = source.pretrained_keys()
    subject.expect(required, "pretrained_keys() is empty: which tensors does a weights file give?")
    state = source.state_dict()
    outside = sorted(required - set(state))
    subject.expect(not outside, f"pretrained_keys() names keys not in state_dict(): {outside[:5]}")
    path = folder / "round-trip.pth"
    torch.save(state, path)
    with seeded(2):
        try:
            target = _build(cls, num_classes, large, path)
        except WeightsError as exc:
            subject.fail(f"its own state_dict() does not load back with weights=PATH: {exc}")
    own = target.state_dict()
    differ = sorted(k for k, v in state.items() if not torch.equal(own[k], v))
    subject.expect(not differ, f"after loading its own state dict, tensors differ: {differ[:5]}")
    missed = sorted(required - set(target.loaded_keys))
    subject.expect(not missed, f"loaded_keys lacks pretrained keys: {missed[:5]}")

    key = next((k for k in sorted(required) if not k.endswith("num_batches_tracked")), None)
    if key is not None:
        torch.save({k: v for k, v in state.items() if k != key}, path)
        try:
            _build(cls, num_classes, large, path)
        except WeightsError as exc:
            subject.expect(key in str(exc), f"the missing-key error does not name '{key}': {exc}")
        else:
            subject.fail(f"a weights file without the trunk tensor '{key}' loaded without error")
    return len(target.loaded_keys)


def check_reference_file(
    subject: Subject,
    cls: type[Backbone],
    reference: Callable[[], Mapping[str, Tensor]],
    *,
    num_classes: int,
    large: bool,
    folder: Path,
) -> None:
    """A file in the pretrained format (e.g. torchvision's) loads, each tensor where mapped."""
    state = dict(reference())
    path = folder / "reference.pth"
    torch.save(state, path)
    try:
        net = _build(cls, num_classes, large, path)
    except WeightsError as exc:
        subject.fail(f"the reference state dict does not load with weights=PATH: {exc}")
    own = net.state_dict()
    landed = 0
    for key, tensor in state.items():
        target = net.map_pretrained_key(key)
        if target is None or target not in own or own[target].shape != tensor.shape:
            continue
        subject.expect(
            torch.equal(own[target], tensor),
            f"file tensor '{key}' was mapped to '{target}' but not loaded there",
        )
        landed += 1
    subject.expect(landed, "no tensor of the reference state dict was loaded")
    missed = sorted(net.pretrained_keys() - set(net.loaded_keys))
    subject.expect(not missed, f"the reference file left pretrained keys unloaded: {missed[:5]}")


def check_imagenet(subject: Subject, cls: type[Backbone], *, num_classes: int) -> str:
    """``weights="imagenet"``: loads from the local cache if the file is there, else a clear error.

    Returns "loaded", "absent" (the error names the file) or "none" (no ImageNet weights).
    """
    url = cls.imagenet_url
    try:
        net = _build(cls, num_classes, False, "imagenet")
    except WeightsError as exc:
        if url is None:
            return "none"
        name = cached_file(url).name
        subject.expect(
            not cached_file(url).is_file(),
            f"the cached ImageNet file is present but does not load: {exc}",
        )
        subject.expect(
            name in str(exc), f"the missing-ImageNet error does not name '{name}': {exc}"
        )
        return "absent"
    subject.expect(url is not None, "weights='imagenet' loaded although imagenet_url is None")
    missed = sorted(net.pretrained_keys() - set(net.loaded_keys))
    subject.expect(not missed, f"the ImageNet file left pretrained keys unloaded: {missed[:5]}")
    return "loaded"


def check_weights(
    subject: Subject,
    cls: type[Backbone],
    *,
    num_classes: int,
    reference: Callable[[], Mapping[str, Tensor]] | None,
) -> int:
    """Every weight check at the default feature-map size; returns the round trip's key count."""
    with tempfile.TemporaryDirectory(prefix="wsolkit-testing-") as tmp:
        folder = Path(tmp)
        loaded = check_round_trip(subject, cls, num_classes=num_classes, large=False, folder=folder)
        if reference is not None:
            check_reference_file(
                subject, cls, reference, num_classes=num_classes, large=False, folder=folder
            )
    check_imagenet(subject, cls, num_classes=num_classes)
    return loaded
