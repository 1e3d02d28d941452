"""Built-in backbones: feature-map sizes, stages, heads, parameter groups, initialization.

The per-backbone tests run over wsolkit's own backbones, read from the registry
(aliases dropped); the dicts below say what is expected of each one and are
checked to cover the registry exactly, so a new backbone fails until its
expectations are written down.
"""

from __future__ import annotations

import inspect
import json
from typing import get_args

import pytest
import torch
from registry_builtins import assert_covers, builtin_aliases, builtin_names
from torch import nn

from wsolkit.backbones import Backbone, ClassMapHead, LinearHead
from wsolkit.backbones.base import GroupRecipe
from wsolkit.errors import SettingsError
from wsolkit.registry import backbones

NAMES = builtin_names(backbones)
RECIPES = get_args(GroupRecipe)

# (channels, side, side with large_feature_map) of the final feature map at 224 input.
FEATURE_MAP_224 = {
    "inception_v3": (1024, 14, 28),
    "resnet50": (2048, 14, 28),
    "tiny": (64, 56, 56),  # large_feature_map changes nothing
    "vgg16": (1024, 14, 28),
}
HEAD = {
    "inception_v3": ClassMapHead,
    "resnet50": LinearHead,
    "tiny": LinearHead,
    "vgg16": LinearHead,
}
# Prefixes of the parameters in the "new" group (the classifier learning rate), per recipe.
NEW_PARAMETERS = {
    "inception_v3": {
        "bridging-gap": ("conv6.", "conv7.", "head."),
        "wsolevaluation": ("conv6.", "conv7.", "head."),
    },
    "resnet50": {"bridging-gap": ("head.",), "wsolevaluation": ("layer4.", "head.")},
    "tiny": {"bridging-gap": ("conv6.", "head."), "wsolevaluation": ("conv6.", "head.")},
    "vgg16": {"bridging-gap": ("conv6.", "head."), "wsolevaluation": ("conv6.", "head.")},
}
# Convolution initialization: kaiming_normal_(fan_out) ("he") or xavier_uniform_.
INIT_MODE = {"inception_v3": "xavier", "resnet50": "xavier", "tiny": "he", "vgg16": "he"}
ALIASES: dict[str, str] = {}  # {alias: the backbone it names}
TABLES = {
    "FEATURE_MAP_224": FEATURE_MAP_224,
    "HEAD": HEAD,
    "NEW_PARAMETERS": NEW_PARAMETERS,
    "INIT_MODE": INIT_MODE,
}


@pytest.mark.parametrize("table", TABLES)
def test_expectations_cover_the_registry(table: str) -> None:
    where = f"{table} in tests/backbones/test_backbone_builtins.py"
    assert_covers(TABLES[table], backbones, where)


def test_aliases() -> None:
    assert builtin_aliases(backbones) == ALIASES, (
        "ALIASES in tests/backbones/test_backbone_builtins.py must list every built-in "
        "backbone alias"
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("large", [False, True])
def test_feature_map_size_at_224(name: str, large: bool) -> None:
    net = backbones.create(name, num_classes=3, large_feature_map=large).eval()
    assert isinstance(net.head, HEAD[name])
    channels, small, big = FEATURE_MAP_224[name]
    side = big if large else small
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        # every stage's output matches its declared channels and reduction
        features = x
        for info in net.stages:
            features = net.stage(info.name)(features)
            assert features.shape[1] == info.channels, info
            assert features.shape[-1] == info.size_at(224), info
        logits = net.head(features)
    assert features.shape == (1, channels, side, side)
    assert net.feature_channels == channels and 224 // net.feature_reduction == side
    assert logits.shape == (1, 3)


def test_tiny_sizes_and_layout() -> None:
    net = backbones.create("tiny", num_classes=10)
    assert net.forward_features(torch.zeros(2, 3, 64, 64)).shape == (2, 64, 16, 16)
    assert net.forward_features(torch.zeros(1, 3, 128, 128)).shape == (1, 64, 32, 32)
    assert net.stage_names == ("conv1", "conv2", "conv3", "conv4", "conv6")
    assert net.split_point == "conv2" and isinstance(net.conv2[-1], nn.MaxPool2d)
    assert net.conv6[0].bias is not None
    assert [type(m) for m in net.conv3] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert net.conv3[0].bias is None
    assert isinstance(net.head, LinearHead) and net.head.fc.in_features == 64


@pytest.mark.parametrize("name", NAMES)
def test_constructor_is_keyword_only(name: str) -> None:
    cls = backbones.load(name)
    params = inspect.signature(cls).parameters
    assert list(params) == ["num_classes", "large_feature_map", "weights"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["weights"].default == "none" and params["large_feature_map"].default is False
    assert issubclass(cls, Backbone)
    with pytest.raises(TypeError):
        cls(3)


def test_vgg16_split_and_adl_positions_match_spec() -> None:
    net = backbones.create("vgg16", num_classes=2)
    f = net.features
    # f1 ends with conv4_3's ReLU (index 22); block5 starts with pool4 at 14×14.
    assert isinstance(net.stage("block4")[-1], nn.ReLU) and net.stage("block4")[-2] is f[21]
    assert isinstance(net.stage("block5")[0], nn.MaxPool2d)
    assert isinstance(net.stage("block3")[-1], nn.MaxPool2d)  # ADL after pool3
    assert net.split_point == "block4"
    assert net.adl_positions == ("block3", "block4", "block5")
    assert len(f) == 30  # pool5 removed
    large = backbones.create("vgg16", num_classes=2, large_feature_map=True)
    assert isinstance(large.features[23], nn.Identity)
    assert not any(isinstance(m, nn.Linear) for m in f.modules())
    assert (net.conv6.in_channels, net.conv6.out_channels, net.conv6.padding) == (512, 1024, (1, 1))


def test_resnet50_strides_split_and_adl_positions() -> None:
    net = backbones.create("resnet50", num_classes=2)
    assert net.layer4[0].conv2.stride == (1, 1) and net.layer4[0].downsample[0].stride == (1, 1)
    assert net.layer3[0].conv2.stride == (2, 2)
    large = backbones.create("resnet50", num_classes=2, large_feature_map=True)
    assert large.layer3[0].conv2.stride == (1, 1)
    assert net.split_point == "layer4.0"
    assert net.adl_positions == ("layer3.0", "layer4.0", "layer4.2")
    assert net.stage("layer4.1") is net.layer4[1]


def test_inception_layout_matches_wsolevaluation() -> None:
    net = backbones.create("inception_v3", num_classes=4)
    assert net.Conv2d_1a_3x3.conv.padding == (1, 1) and net.Conv2d_2b_3x3.conv.padding == (1, 1)
    assert net.maxpool1.ceil_mode and net.maxpool2.ceil_mode and net.maxpool3.ceil_mode
    assert net.Mixed_6a.branch3x3.conv.stride == (1, 1)
    assert net.Mixed_6a.branch3x3.conv.padding == (1, 1)
    assert isinstance(net.head, ClassMapHead) and net.head.class_weights is None
    assert [type(m) for m in net.conv6] == [nn.Dropout, nn.Conv2d, nn.ReLU]
    large = backbones.create("inception_v3", num_classes=4, large_feature_map=True)
    assert isinstance(large.maxpool3, nn.Identity)


def test_forward_stages_compose() -> None:
    net = backbones.create("tiny", num_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        f1 = net.forward_stages(x, through="conv2")
        assert f1.shape == (2, 32, 8, 8)
        torch.testing.assert_close(net.forward_stages(f1, after="conv2"), net.forward_features(x))
        torch.testing.assert_close(net(x), net.head(net.forward_features(x)))
    with pytest.raises(SettingsError, match="no stage 'conv5'.*conv1, conv2"):
        net.forward_stages(x, through="conv5")


@pytest.mark.parametrize("name", NAMES)
def test_parameter_groups(name: str) -> None:
    net = backbones.create(name, num_classes=3)
    assert set(NEW_PARAMETERS[name]) == set(RECIPES), f"NEW_PARAMETERS['{name}'] needs {RECIPES}"
    for recipe, prefixes in NEW_PARAMETERS[name].items():
        groups = net.parameter_groups(recipe)  # type: ignore[arg-type]
        assert {n for n, _ in groups.new} == {
            n for n, _ in net.named_parameters() if n.startswith(prefixes)
        }, recipe
        assert len(groups.new) + len(groups.pretrained) == len(list(net.parameters()))
        opt = torch.optim.SGD(groups.optimizer_groups(0.01, 5.0), lr=0.01)
        assert [g["lr"] for g in opt.param_groups] == [0.01, 0.05]


def test_unknown_recipe() -> None:
    with pytest.raises(SettingsError, match="optim.classifier_groups"):
        backbones.create("tiny", num_classes=2).parameter_groups("timm")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_initialization(name: str) -> None:
    """Linear N(0, 0.01), BatchNorm (1, 0), zero biases; the largest conv follows INIT_MODE."""
    torch.manual_seed(0)
    net = backbones.create(name, num_classes=50)
    assert net.init_mode == INIT_MODE[name]
    for m in net.modules():
        if isinstance(m, nn.Linear):
            assert m.bias.abs().max() == 0 and 0.008 < m.weight.std().item() < 0.012
        if isinstance(m, nn.BatchNorm2d):
            assert (m.weight == 1).all() and (m.bias == 0).all()
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            assert (m.bias == 0).all()
    conv = max(
        (m for m in net.modules() if isinstance(m, nn.Conv2d)), key=lambda m: m.weight.numel()
    )
    fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    std = conv.weight.std().item()
    if INIT_MODE[name] == "xavier":  # uniform in ±sqrt(6 / (fan_in + fan_out))
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert conv.weight.abs().max() <= bound
        assert std == pytest.approx(bound / 3**0.5, rel=0.1)
    else:  # kaiming_normal fan_out: std sqrt(2 / fan_out)
        assert std == pytest.approx((2 / fan_out) ** 0.5, rel=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_plugin_details_are_json(name: str) -> None:
    details = backbones.load(name).plugin_details()
    json.dumps(details)
    _, side, large = FEATURE_MAP_224[name]
    assert details["feature_map_at_224"] == f"{side}×{side}"
    assert details["feature_map_at_224_large"] == f"{large}×{large}"
