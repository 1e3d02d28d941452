"""SPG: the branches on each backbone, what they read, the guidance losses, groups, refusals.

What SPG builds on each built-in backbone is pinned in the dicts below (checked to
cover the registry). The float64 comparison with wsolevaluation's own models runs
outside the suite (see the CHANGELOG).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from registry_builtins import assert_covers, builtin_names
from torch import nn

from wsolkit.backbones.tiny import Tiny
from wsolkit.backbones.variants import SpgLayout
from wsolkit.errors import SettingsError
from wsolkit.functional import spg_losses
from wsolkit.methods import IncompatibleBackboneError, Targets
from wsolkit.methods.spg import SpgHead
from wsolkit.registry import backbones, methods
from wsolkit.testing import BareBackbone

BACKBONES = builtin_names(backbones)
# Input channels of SPG-B1, SPG-B2 and SPG-C, the B width, the main convs, the dropout.
BRANCHES = {
    "inception_v3": (288, 768, 1024, 512, (), 0.5),
    "resnet50": (1024, 1024, 2048, 1024, (), 0.0),
    "tiny": (32, 64, 64, 64, (), 0.0),
    "vgg16": (512, 512, 512, 512, (512, 512), 0.0),
}
# Parameters (without "backbone.") in the new group, per recipe.
NEW = {
    "inception_v3": {
        "bridging-gap": ("conv6.", "conv7.", "head."),
        "wsolevaluation": ("conv6.", "conv7.", "head."),
    },
    "resnet50": {"bridging-gap": ("head.",), "wsolevaluation": ("layer4.",)},  # heads at 1×
    "tiny": {"bridging-gap": ("conv6.", "head."), "wsolevaluation": ("conv6.", "head.")},
    "vgg16": {  # wsolevaluation's SPG_A_1 / SPG_A_2 (conv4_x, conv5_x) at the classifier rate
        "bridging-gap": ("head.",),
        "wsolevaluation": tuple(f"features.{i}." for i in (17, 19, 21, 24, 26, 28)) + ("head.",),
    },
}
HEAVY = [pytest.mark.slow]


@pytest.mark.parametrize("table", ["BRANCHES", "NEW"])
def test_expectations_cover_the_registry(table: str) -> None:
    assert_covers(globals()[table], backbones, f"{table} in tests/methods/test_spg.py")


def build(backbone: str = "tiny", num_classes: int = 5, **settings: object) -> nn.Module:
    torch.manual_seed(0)
    net = backbones.create(backbone, num_classes=num_classes, **settings)
    return methods.create("spg").build(net)


def images(side: int = 32, n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def first_conv(module: nn.Module) -> nn.Conv2d:
    return next(m for m in module.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("name", BACKBONES)
def test_branches_on_each_backbone(name: str) -> None:
    b1, b2, c, width, main, dropout = BRANCHES[name]
    model = build(name)
    head = model.backbone.head
    assert isinstance(head, SpgHead)
    assert first_conv(head.branch_b1).in_channels == b1
    assert first_conv(head.branch_b2).in_channels == b2
    assert first_conv(head.branch_b1).out_channels == width
    assert first_conv(head.branch_c).in_channels == head.conv.in_channels == c
    assert first_conv(head.branch_c).out_channels == (64 if name == "tiny" else 512)
    assert [m.out_channels for m in head.main if isinstance(m, nn.Conv2d)] == list(main)
    assert getattr(head.dropout, "p", 0.0) == dropout
    assert head.conv.kernel_size == (1, 1) and head.conv.out_channels == 5
    assert all(k.startswith("backbone.") for k in model.state_dict())


@pytest.mark.parametrize("large", [False, True])
def test_vgg16_as_wsolevaluation(large: bool) -> None:
    """VggSpg: pool4 a 3×3 / 2 / pad 1 max-pool (none if large); conv6 replaced; B1 after pool4."""
    model = build("vgg16", num_classes=3, large_feature_map=large).train()
    net = model.backbone
    pool4 = net.features[23]
    if large:
        assert isinstance(pool4, nn.Identity)
    else:
        assert isinstance(pool4, nn.MaxPool2d) and (pool4.kernel_size, pool4.stride) == (3, 2)
    assert net.stage_names[-1] == "block5" and not hasattr(net, "conv6")
    x = images(64, 2)
    out = model(x)
    with torch.no_grad():
        tap = net.features[:24](x)  # conv1_1 … conv4_3, pool4
        b1 = net.head.branch_b_shared(net.head.branch_b1(tap))
    torch.testing.assert_close(out["logits_b1"], F.interpolate(b1, size=(64, 64), mode="bilinear"))
    assert out["features"].shape[-1] == (8 if large else 4)


def test_training_outputs_and_taps_on_tiny() -> None:
    model = build().train()
    x = images()
    out = model(x)
    assert set(out) == {"logits", "features", "class_maps", "logits_b1", "logits_b2", "logits_c"}
    assert out["class_maps"].shape == (3, 5, 8, 8)
    for key in ("logits_b1", "logits_b2", "logits_c"):
        assert out[key].shape == (3, 1, 32, 32)  # upsampled to the input size
    torch.testing.assert_close(out["logits"], out["class_maps"].mean(dim=(2, 3)))
    net, head = model.backbone, model.backbone.head
    with torch.no_grad():
        conv2 = net.forward_stages(x, through="conv2")
        conv4 = net.forward_stages(conv2, after="conv2", through="conv4")
        b2 = head.branch_b_shared(head.branch_b2(conv4))
        c = head.branch_c(net.conv6(conv4))
    up = lambda t: F.interpolate(t, size=(32, 32), mode="bilinear")  # noqa: E731
    torch.testing.assert_close(out["logits_b2"], up(b2))
    torch.testing.assert_close(out["logits_c"], up(c))


def test_losses_sum_the_guidance_terms_of_the_labels() -> None:
    method = methods.create("spg")
    torch.manual_seed(0)
    model = method.build(backbones.create("tiny", num_classes=5)).train()
    out = model(images())
    labels = torch.tensor([0, 3, 4])
    losses = method.losses(out, Targets(labels))
    assert set(losses) == {"total", "ce", "spg_b2", "spg_b1", "spg_c"}
    terms = spg_losses(
        out["class_maps"], out["logits_b1"], out["logits_b2"], out["logits_c"], labels,
        ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1)),
    )  # fmt: skip
    for name, value in terms.items():
        torch.testing.assert_close(losses[name], value)
    torch.testing.assert_close(losses["ce"], F.cross_entropy(out["logits"], labels))
    total = losses["ce"] + losses["spg_b2"] + losses["spg_b1"] + losses["spg_c"]
    torch.testing.assert_close(losses["total"], total)
    other = method.losses(out, Targets(torch.tensor([1, 1, 1])))
    assert other["spg_b2"] != losses["spg_b2"]  # the attention is the labels' class map


def test_cam_is_the_class_map_with_its_bias() -> None:
    model = build().eval()
    x, labels = images(), torch.tensor([2, 0, 4])
    with torch.inference_mode():
        result = model.cams(x, labels)
        maps = model.backbone.head.conv(model.forward_features(x))
    assert torch.equal(result.cams[:, 0], maps[[0, 1, 2], labels])


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[] if n == "tiny" else HEAVY) for n in BACKBONES]
)
def test_parameter_groups(name: str) -> None:
    model = build(name)
    names = [n for n, _ in model.named_parameters()]
    for recipe, prefixes in NEW[name].items():
        groups = model.parameter_groups(recipe)  # type: ignore[arg-type]
        expected = [n for n in names if n.startswith(tuple(f"backbone.{p}" for p in prefixes))]
        assert [n for n, _ in groups.new] == expected, recipe
        assert [n for n, _ in groups.pretrained] == [n for n in names if n not in expected]


def test_refuses_a_backbone_without_split_point() -> None:
    with pytest.raises(IncompatibleBackboneError, match="needs a split point .* no split point"):
        methods.create("spg").build(BareBackbone(num_classes=3))


def test_refuses_a_layout_out_of_order() -> None:
    class Backwards(Tiny):
        name = "backwards"

        def spg_layout(self) -> SpgLayout:
            return SpgLayout(b1_after="conv4", b2_after="conv2")

    with pytest.raises(IncompatibleBackboneError, match="not stages in order"):
        methods.create("spg").build(Backwards(num_classes=3))


def test_default_layout_of_a_plugin_backbone() -> None:
    """Without spg_layout(): B1 on the split point, B2 on the last trunk stage."""
    layout = super(Tiny, Tiny(num_classes=3)).spg_layout()
    assert layout is not None
    assert (layout.b1_after, layout.b2_after, layout.main, layout.dropout) == (
        "conv2",
        "conv4",
        (),
        0.0,
    )


def test_thresholds_validated() -> None:
    with pytest.raises(SettingsError, match=r"method\.spg_threshold_2l .*must not exceed"):
        methods.create("spg", spg_threshold_2h=0.04)
    with pytest.raises(SettingsError, match=r"method\.spg_threshold_1h"):
        methods.create("spg", spg_threshold_1h=1.5)
    assert methods.create("spg", spg_threshold_3h=0.1, spg_threshold_3l=0.1).params.thresholds()[
        2
    ] == (0.1, 0.1)


@pytest.mark.slow
def test_vgg16_conv4_conv5_from_the_imagenet_layout_file(tmp_path: Path) -> None:
    """A torchvision VGG16 file fills conv4_x / conv5_x too (wsolevaluation renames them into
    SPG_A_1 / SPG_A_2 before loading); only the SPG layers are new.
    """
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(4)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    net = build("vgg16", num_classes=3, weights=path).backbone
    own = net.state_dict()
    for index in (17, 19, 21, 24, 26, 28):
        assert torch.equal(own[f"features.{index}.weight"], state[f"features.{index}.weight"])
    assert set(own) - set(state) == {k for k in own if k.startswith("head.")}
