"""deit_small: conformance, timm's own network, the 14×14 map, weights, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import timm
import torch
from torch import Tensor, nn
from wsolkit.backbones import WeightsError
from wsolkit.errors import SettingsError
from wsolkit.registry import backbones, methods
from wsolkit.testing import builtin_methods, check_backbone
from wsolkit.testing.backbone import check_class, check_with_method
from wsolkit.testing.steps import check_parameter_groups
from wsolkit.testing.support import Subject, parameter_ids, seeded
from wsolkit.testing.weights import check_weights

from wsolkit_timm.deit import DeiTSmall
from wsolkit_timm.heads import ConvClassMapHead

PACKAGE = "wsolkit-timm"
# Methods that need what a transformer does not offer: a split point (EIL, aligned EIL, SPG),
# ADL positions (ADL), a linear head (aligned EIL).
INCOMPATIBLE = ["adl", "aligned-eil", "eil", "spg"]


def _timm_deit(num_classes: int = 1000, **kwargs: object) -> nn.Module:
    return timm.create_model(
        "deit_small_patch16_224", pretrained=False, num_classes=num_classes, **kwargs
    )


@pytest.fixture(scope="module")
def pair() -> tuple[DeiTSmall, nn.Module]:
    """deit_small (7 classes) and timm's deit_small_patch16_224 sharing trunk weights, eval."""
    with seeded(0):
        reference = _timm_deit(dynamic_img_size=True).eval()
        net = DeiTSmall(num_classes=7).eval()
    trunk = {k: v for k, v in reference.state_dict().items() if not k.startswith("head.")}
    net.load_state_dict(
        trunk | {k: v for k, v in net.state_dict().items() if k.startswith("head.")}
    )
    return net, reference


def test_registered_by_this_package() -> None:
    assert backbones.package_of("deit_small") == PACKAGE
    assert methods.package_of("ts-cam") == PACKAGE
    assert backbones.describe("deit_small").status == "ok"
    assert methods.describe("ts-cam").status == "ok"


def test_conformance_with_every_builtin_method(tiny_deit: type[DeiTSmall]) -> None:
    """wsolkit.testing's class, weight and method checks, on deit_small's layout at 32 channels.

    (deit_small itself takes about ten times longer on a CPU; its class is checked here,
    its weights and structure below.)
    """
    check_class(Subject("backbone 'deit_small'"), DeiTSmall, "deit_small")
    subject = Subject("backbone 'tiny_deit'")
    check_class(subject, tiny_deit, None)
    reference = timm.create_model(
        "deit_small_patch16_224", pretrained=False, embed_dim=32, num_heads=2, img_size=64
    )
    loaded = check_weights(subject, tiny_deit, num_classes=5, reference=reference.state_dict)
    assert loaded == 152  # every tensor: 150 of timm's + head.conv.weight, head.conv.bias
    outcomes = {
        name: check_with_method(subject, tiny_deit, name, input_size=64, num_classes=5)
        for name in builtin_methods()
    }
    refused = sorted(name for name, o in outcomes.items() if o.status == "incompatible")
    assert refused == INCOMPATIBLE
    assert all("tiny_deit" in outcomes[name].message for name in refused)


@pytest.mark.parametrize("size", [64, 224])
def test_structure_read_through_stage_maps(pair: tuple[DeiTSmall, nn.Module], size: int) -> None:
    """check_backbone's structure check, with each stage's output read through stage_map."""
    net = pair[0]
    assert net.stages == DeiTSmall.stage_table() == DeiTSmall.stage_table(True)
    assert net.stage_names == ("patch_embed", *(f"blocks.{i}" for i in range(12)), "norm")
    covered = set().union(
        parameter_ids(net.head), *(parameter_ids(net.stage(s)) for s in net.stage_names)
    )
    assert all(id(p) in covered for p in net.parameters())
    images = torch.randn(1, 3, size, size)
    side = size // 16
    with torch.no_grad():
        x = images
        for info in net.stages:
            x = net.stage(info.name)(x)
            expected_tokens = (1, 1 + side * side, 384)
            assert tuple(x.shape) == (
                (1, 384, side, side) if info.name == "norm" else expected_tokens
            )
            assert tuple(net.stage_map(info.name, x).shape) == (1, info.channels, side, side)
        features = net.forward_features(images)
        torch.testing.assert_close(features, x, rtol=0, atol=0)
        torch.testing.assert_close(net(images), net.head(features), rtol=0, atol=0)
    check_parameter_groups(Subject("backbone 'deit_small'"), net)


def test_check_backbone_whole() -> None:
    check_backbone("deit_small", expect_incompatible=INCOMPATIBLE, expected_feature_size=4)


def test_the_network_is_timm_s_deit_small(pair: tuple[DeiTSmall, nn.Module]) -> None:
    """With timm's weights, F is exactly timm's patch tokens after the final norm."""
    net, reference = pair
    for size in (224, 96):  # the pretrained grid, and a resampled position embedding
        images = torch.randn(1, 3, size, size)
        with torch.no_grad():
            tokens = reference.forward_features(images)  # B×(1+N)×384 after the final norm
            side = size // 16
            expected = tokens[:, 1:].reshape(1, side, side, 384).permute(0, 3, 1, 2)
            torch.testing.assert_close(net.forward_features(images), expected, rtol=0, atol=0)


def test_drop_path_rate_reaches_timm(tiny_deit: type[DeiTSmall]) -> None:
    net = tiny_deit(num_classes=3, drop_path_rate=0.1)
    rates = [getattr(b.drop_path1, "drop_prob", 0.0) for b in net.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)  # timm's linear decay rule
    assert isinstance(tiny_deit(num_classes=3).blocks[-1].drop_path1, nn.Identity)


def test_head_parameter_groups_and_weight_decay_exemptions(
    pair: tuple[DeiTSmall, nn.Module],
) -> None:
    net = pair[0]
    assert isinstance(net.head, ConvClassMapHead) and net.head.class_weights is None
    assert tuple(net.head.conv.weight.shape) == (7, 384, 3, 3) and net.head.conv.padding == (1, 1)
    for recipe in ("bridging-gap", "wsolevaluation"):
        assert [n for n, _ in net.parameter_groups(recipe).new] == [
            "head.conv.weight",
            "head.conv.bias",
        ]
    assert net.no_weight_decay() == {"cls_token", "pos_embed"}
    assert net.trunk_end == "norm"
    features = torch.randn(2, 384, 14, 14)
    maps = net.head.class_maps(features, torch.tensor([[6], [0]]))
    full = net.head.maps(features)
    torch.testing.assert_close(maps[:, 0], torch.stack([full[0, 6], full[1, 0]]))
    torch.testing.assert_close(net.head(features), full.mean(dim=(2, 3)))


def test_large_feature_map_is_refused_in_one_line() -> None:
    with pytest.raises(SettingsError) as info:
        DeiTSmall(num_classes=3, large_feature_map=True)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("invalid setting model.large_feature_map = True: backbone 'deit_small'")
    details = DeiTSmall.plugin_details()
    assert details["feature_map_at_224"] == "14×14" and details["feature_map_at_224_large"] is None


def test_imagenet_weights_offline_name_the_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as info:
        DeiTSmall(num_classes=3, weights="imagenet")
    text = str(info.value)
    folder = tmp_path / "hub" / "checkpoints"
    assert "\n" not in text
    assert "never downloads: put 'deit_small_patch16_224-cd65a155.pth'" in text
    assert f"in the folder '{folder}'" in text


def _deit_release(path: Path, **config: object) -> dict[str, Tensor]:
    """A file as facebookresearch/deit releases it: {'model': state_dict} (1000 classes)."""
    state = _timm_deit(**config).state_dict()
    torch.save({"model": state}, path)
    return state


TINY = {"embed_dim": 32, "num_heads": 2, "img_size": 64}


def test_imagenet_weights_from_the_local_cache(
    tiny_deit: type[DeiTSmall], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeiT's release file in the torch cache (deit_small's layout at 32 channels)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(tiny_deit, "imagenet_url", DeiTSmall.imagenet_url)
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    state = _deit_release(folder / "deit_small_patch16_224-cd65a155.pth", **TINY)
    net = tiny_deit(num_classes=3, weights="imagenet")
    assert set(net.loaded_keys) == net.pretrained_keys() and len(net.loaded_keys) == 150
    own = net.state_dict()
    assert all(torch.equal(own[k], state[k]) for k in net.loaded_keys)


def test_weights_files_in_other_layouts(tiny_deit: type[DeiTSmall], tmp_path: Path) -> None:
    _deit_release(tmp_path / "deit.pth", **TINY)
    assert len(tiny_deit(num_classes=3, weights=tmp_path / "deit.pth").loaded_keys) == 150
    torch.save({"epoch": 3, "state_dict": {}, "best_map": 0.5}, tmp_path / "tscam.pth")
    with pytest.raises(WeightsError, match=re.escape("import-checkpoint FILE --from ts-cam")):
        tiny_deit(num_classes=3, weights=tmp_path / "tscam.pth")
