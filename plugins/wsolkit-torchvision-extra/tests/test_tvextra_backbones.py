"""MobileNetV3-Large and EfficientNet-B0 (WSOL): conformance, strides, weights, 224 px sizes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip(
    "wsolkit_torchvision_extra",
    reason="install the plugin: pip install -e plugins/wsolkit-torchvision-extra",
)

import torchvision  # noqa: E402
from wsolkit.backbones import WeightsError  # noqa: E402
from wsolkit.registry import backbones, extractors  # noqa: E402
from wsolkit.testing import builtin_methods, check_backbone  # noqa: E402

from wsolkit_torchvision_extra.efficientnet import EfficientNetB0  # noqa: E402
from wsolkit_torchvision_extra.mobilenet import MobileNetV3Large  # noqa: E402

PACKAGE = "wsolkit-torchvision-extra"


def _torchvision_mobilenet() -> nn.Module:
    return torchvision.models.mobilenet_v3_large()


def _torchvision_efficientnet() -> nn.Module:
    return torchvision.models.efficientnet_b0()


TORCHVISION: dict[str, Callable[[], nn.Module]] = {
    "mobilenet_v3_large": _torchvision_mobilenet,
    "efficientnet_b0": _torchvision_efficientnet,
}
# The convolutions whose stride 2 becomes 1 (large_feature_map: False, True).
UNSTRIDED = {
    "mobilenet_v3_large": (
        ("features.13.block.1.0",),
        ("features.7.block.1.0", "features.13.block.1.0"),
    ),
    "efficientnet_b0": (
        ("features.6.0.block.1.0",),
        ("features.4.0.block.1.0", "features.6.0.block.1.0"),
    ),
}
CHANNELS = {"mobilenet_v3_large": 960, "efficientnet_b0": 1280}
NAMES = list(TORCHVISION)


@pytest.mark.parametrize("name", NAMES)
def test_registered_by_this_package(name: str) -> None:
    assert backbones.package_of(name) == PACKAGE
    assert extractors.package_of("hirescam") == PACKAGE
    assert backbones.describe(name).status == "ok"


@pytest.mark.parametrize("name", NAMES)
def test_conformance(name: str) -> None:
    """wsolkit.testing over the whole interface, every built-in method included."""
    report = check_backbone(
        name,
        expect_incompatible=[],
        expected_feature_size=4,  # 64 px / 16
        expected_feature_size_large=8,  # 64 px / 8
        reference_state_dict=lambda: TORCHVISION[name]().state_dict(),
    )
    assert sorted(report.compatible) == sorted(builtin_methods())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("large", [False, True])
def test_only_the_documented_strides_change(name: str, large: bool) -> None:
    net = backbones.create(name, num_classes=3, large_feature_map=large)
    assert net.strides_removed == UNSTRIDED[name][large]
    reference = dict(TORCHVISION[name]().named_modules())
    for module_name, module in net.named_modules():
        if not isinstance(module, nn.Conv2d) or not module_name.startswith("features."):
            continue
        original = reference[module_name]
        expected = (1, 1) if module_name in net.strides_removed else original.stride
        assert module.stride == expected, module_name
        assert (module.kernel_size, module.padding, module.dilation, module.groups) == (
            original.kernel_size,
            original.padding,
            original.dilation,
            original.groups,
        ), module_name


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("large", [False, True])
def test_feature_map_at_224(name: str, large: bool) -> None:
    side = 28 if large else 14
    net = backbones.create(name, num_classes=7, large_feature_map=large).eval()
    with torch.no_grad():
        features = net.forward_features(torch.randn(1, 3, 224, 224))
    assert features.shape == (1, CHANNELS[name], side, side)
    details = type(net).plugin_details()
    assert details["feature_map_at_224"] == "14×14"
    assert details["feature_map_at_224_large"] == "28×28"


@pytest.mark.parametrize("name", NAMES)
def test_same_network_as_torchvision_up_to_the_removed_stride(name: str, tmp_path: Path) -> None:
    """With torchvision's weights, the blocks before the unstrided one compute exactly its features."""
    reference = TORCHVISION[name]().eval()
    torch.save(reference.state_dict(), tmp_path / "tv.pth")
    net = backbones.create(name, num_classes=5, weights=tmp_path / "tv.pth").eval()
    before = net.stage_names[net.stage_names.index(type(net).unstrided) - 1]
    top = int(before.split(".")[1])  # features.12 -> 12, features.5.2 -> 5 (its last block)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(
            net.forward_stages(x, through=before), reference.features[: top + 1](x), rtol=0, atol=0
        )
        # after it, the same weights at twice the resolution: 6×6 instead of 3×3 at 96 px
        assert net.forward_features(x).shape[-2:] == (6, 6)
        assert reference.features(x).shape[-2:] == (3, 3)


@pytest.mark.parametrize(
    ("name", "new_late"),
    [
        ("mobilenet_v3_large", ("features.13.", "features.14.", "features.15.", "features.16.")),
        ("efficientnet_b0", ("features.6.", "features.7.", "features.8.")),
    ],
)
def test_parameter_groups(name: str, new_late: tuple[str, ...]) -> None:
    net = backbones.create(name, num_classes=3)
    params = [n for n, _ in net.named_parameters()]
    bridging = net.parameter_groups("bridging-gap")
    assert [n for n, _ in bridging.new] == ["head.fc.weight", "head.fc.bias"]
    wsolevaluation = {n for n, _ in net.parameter_groups("wsolevaluation").new}
    assert wsolevaluation == {n for n in params if n.startswith(("head.", *new_late))}


@pytest.mark.parametrize("cls", [MobileNetV3Large, EfficientNetB0])
def test_imagenet_weights_come_from_the_local_cache_only(
    cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    file_name = cls.imagenet_url.rsplit("/", 1)[-1]
    with pytest.raises(WeightsError, match=f"never downloads: put '{re.escape(file_name)}'"):
        cls(num_classes=3, weights="imagenet")
    # A file of torchvision's format under the cached name is read and mapped key for key.
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    state = TORCHVISION[cls.name]().state_dict()
    torch.save(state, checkpoints / file_name)
    net = cls(num_classes=3, weights="imagenet")
    for key, value in net.state_dict().items():
        if key.startswith("features."):
            assert torch.equal(value, state[key]), key
    assert not any(k.startswith("head.") for k in net.loaded_keys)  # 1000 ≠ 3 classes


def test_efficientnet_has_no_stochastic_depth() -> None:
    net = backbones.create("efficientnet_b0", num_classes=3)
    depths = [m.p for m in net.modules() if type(m).__name__ == "StochasticDepth"]
    assert depths and all(p == 0.0 for p in depths)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(net.train()(x), net(x))  # training mode is deterministic too


def test_a_state_dict_of_another_architecture_is_refused(tmp_path: Path) -> None:
    torch.save(_torchvision_mobilenet().state_dict(), tmp_path / "mobilenet.pth")
    with pytest.raises(WeightsError, match="do not fit backbone 'efficientnet_b0'"):
        backbones.create("efficientnet_b0", num_classes=3, weights=tmp_path / "mobilenet.pth")
