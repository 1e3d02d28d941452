"""ACoL: the classifiers on each backbone, erasing with the given labels, CAMs, groups, weights.

What ACoL builds on each built-in backbone is pinned in the dicts below (checked to
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

from wsolkit.functional import acol_cam, acol_erase, class_attention
from wsolkit.methods import Targets
from wsolkit.methods.acol import AcolHead
from wsolkit.registry import backbones, methods
from wsolkit.testing import BareBackbone

BACKBONES = builtin_names(backbones)
# trunk end, its channels, classifier width.
LAYOUT = {
    "inception_v3": ("Mixed_6e", 768, 1024),
    "resnet50": ("layer4.2", 2048, 1024),
    "tiny": ("conv4", 64, 64),
    "vgg16": ("block5", 512, 1024),
}
# Parameters (without "backbone.") in the new group, per recipe; the rest is pretrained.
NEW = {
    "inception_v3": {"bridging-gap": ("head.",), "wsolevaluation": ("head.",)},
    "resnet50": {"bridging-gap": ("head.",), "wsolevaluation": ("layer4.",)},  # heads at 1×
    "tiny": {"bridging-gap": ("head.",), "wsolevaluation": ("head.",)},
    "vgg16": {"bridging-gap": ("head.",), "wsolevaluation": ("head.",)},
}
HEAVY = [pytest.mark.slow]


@pytest.mark.parametrize("table", ["LAYOUT", "NEW"])
def test_expectations_cover_the_registry(table: str) -> None:
    assert_covers(globals()[table], backbones, f"{table} in tests/methods/test_acol.py")


def build(backbone: str = "tiny", num_classes: int = 5, **settings: object) -> nn.Module:
    torch.manual_seed(0)
    net = backbones.create(backbone, num_classes=num_classes, **settings)
    return methods.create("acol").build(net)


def images(side: int = 32, n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", BACKBONES)
def test_classifiers_replace_the_head_and_later_stages(name: str) -> None:
    end, channels, width = LAYOUT[name]
    model = build(name)
    net = model.backbone
    assert net.stage_names[-1] == end and net.feature_channels == channels
    head = net.head
    assert isinstance(head, AcolHead) and head.threshold == 0.7
    for classifier in (head.classifier_a, head.classifier_b):
        convs = [m for m in classifier if isinstance(m, nn.Conv2d)]
        assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
            (channels, width, (3, 3)),
            (width, width, (3, 3)),
            (width, 5, (1, 1)),
        ]
    assert not hasattr(net, "conv6") and not hasattr(net, "conv7")
    assert all(k.startswith("backbone.") for k in model.state_dict())


@pytest.mark.parametrize("large", [False, True])
def test_vgg16_pools_as_wsolevaluation(large: bool) -> None:
    """VggAcol: 3×3 / 2 / pad 1 max-pools ('M1'), pool4 stride 1 if large, pool5 and avg-pool."""
    net = build("vgg16", num_classes=3, large_feature_map=large).backbone
    for index in (4, 9, 16, 23):
        pool = net.features[index]
        stride = 1 if (large and index == 23) else 2
        assert isinstance(pool, nn.MaxPool2d)
        assert (pool.kernel_size, pool.stride, pool.padding) == (3, stride, 1)
    pre = net.head.pre_pool
    assert isinstance(pre[0], nn.MaxPool2d) and (pre[0].kernel_size, pre[0].stride) == (3, 1)
    assert isinstance(pre[1], nn.AvgPool2d) and (pre[1].kernel_size, pre[1].stride) == (3, 1)
    model = build("vgg16", num_classes=3, large_feature_map=large).eval()
    with torch.no_grad():
        assert model(images(64, 1))["features"].shape[-1] == (8 if large else 4)


def test_training_erases_for_the_given_labels() -> None:
    model = build().train()
    x, labels = images(), torch.tensor([0, 3, 4])
    head = model.backbone.head
    torch.manual_seed(0)
    out = model(x, labels)
    assert set(out) == {"logits", "features", "logits_erased"}
    maps_a = head.classifier_a(out["features"])
    erased = acol_erase(out["features"], class_attention(maps_a, labels), 0.7)
    expected = F.adaptive_avg_pool2d(head.classifier_b(erased), 1).flatten(1)
    torch.testing.assert_close(out["logits_erased"], expected)
    torch.testing.assert_close(out["logits"], maps_a.mean(dim=(2, 3)))
    guessed = model(x)  # no labels: A's prediction is erased, as the reference does
    predicted = guessed["logits"].argmax(1)
    again = model.backbone.head.branches(guessed["features"], predicted)["logits_erased"]
    torch.testing.assert_close(guessed["logits_erased"], again)
    assert model.takes_labels


def test_losses_are_both_cross_entropies() -> None:
    method = methods.create("acol", acol_threshold=0.5)
    torch.manual_seed(0)
    model = method.build(backbones.create("tiny", num_classes=5)).train()
    x, labels = images(), torch.tensor([0, 3, 4])
    out = model(x, labels)
    losses = method.losses(out, Targets(labels))
    assert set(losses) == {"total", "ce", "ce_erased"}
    torch.testing.assert_close(losses["ce"], F.cross_entropy(out["logits"], labels))
    torch.testing.assert_close(losses["ce_erased"], F.cross_entropy(out["logits_erased"], labels))
    torch.testing.assert_close(losses["total"], losses["ce"] + losses["ce_erased"])


def test_cam_is_the_max_of_both_normalized_maps_erased_per_class() -> None:
    model = build().eval()
    x = images()
    classes = torch.tensor([[1, 2], [0, 4], [3, 3]])
    head = model.backbone.head
    with torch.inference_mode():
        result = model.cams(x, classes)
        features = model.forward_features(x)
        maps_a = head.classifier_a(features)
        for j in range(2):
            labels = classes[:, j]
            maps_b = head.classifier_b(acol_erase(features, class_attention(maps_a, labels), 0.7))
            torch.testing.assert_close(result.cams[:, j], acol_cam(maps_a, maps_b, labels))
    assert result.cams.shape == (3, 2, 8, 8)
    assert float(result.cams.min()) >= 0.0 and float(result.cams.max()) <= 1.0


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
        assert len(groups.pretrained) + len(groups.new) == len(names)


def test_no_requirement_a_bare_backbone_hosts_it() -> None:
    torch.manual_seed(0)
    model = methods.create("acol").build(BareBackbone(num_classes=3)).eval()
    with torch.inference_mode():
        assert model.cams(images(16, 2), torch.tensor([0, 2])).cams.shape == (2, 1, 8, 8)


def test_init_without_weights_follows_the_reference() -> None:
    """Without weights, the trunk takes the layout's init (Xavier for tiny and VGG16, as
    VggAcol); a backbone whose own init is the layout's keeps its draws.
    """
    model = build()
    bound = (6 / (2 * 64 * 9)) ** 0.5  # Xavier-uniform, 64→64 3×3
    assert float(model.backbone.conv4[0].weight.detach().abs().max()) <= bound
    assert float(model.backbone.head.classifier_a[2].weight.detach().abs().max()) <= bound
    torch.manual_seed(0)
    plain = BareBackbone(num_classes=3)  # He; its default ACoL layout is He too
    torch.manual_seed(0)
    model = methods.create("acol").build(BareBackbone(num_classes=3))
    assert torch.equal(model.backbone.conv2[0].weight, plain.conv2[0].weight)


@pytest.mark.slow
def test_vgg16_without_weights_is_xavier_throughout() -> None:
    vgg = build("vgg16", num_classes=3).backbone
    conv = vgg.features[2].weight.detach()  # 64→64 3×3
    assert float(conv.abs().max()) <= (6 / 1152) ** 0.5
    head = vgg.head.classifier_a[0].weight.detach()
    assert float(head.abs().max()) <= (6 / (512 * 9 + 1024 * 9)) ** 0.5


def test_trunk_weights_from_a_file_are_kept(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = backbones.create("tiny", num_classes=5)
    path = tmp_path / "tiny.pt"
    torch.save(source.state_dict(), path)
    model = build(weights=path)
    for key, value in model.backbone.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(value, source.state_dict()[key]), key
    assert not any(k.startswith(("conv6.", "head.fc.")) for k in model.backbone.state_dict())


@pytest.mark.slow
def test_vgg16_imagenet_layout_file_loads_into_the_trunk(tmp_path: Path) -> None:
    """A torchvision VGG16 state dict (weights=PATH) fills conv1_1 … conv5_3; pools hold none."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(4)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    state["classifier.6.weight"] = torch.zeros(1000, 4096)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    net = build("vgg16", num_classes=3, weights=path).backbone
    own = net.state_dict()
    for key, value in state.items():
        if key.startswith("features."):
            assert torch.equal(own[key], value), key
