"""Weight loading: torchvision state dicts via a path and the local torch cache; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models.vgg import cfgs, make_layers

from wsolkit.backbones import WeightsError
from wsolkit.backbones.weights import cached_file
from wsolkit.registry import backbones


def assert_trunk_loaded(
    net: torch.nn.Module, state: dict[str, torch.Tensor], skip: tuple[str, ...]
) -> int:
    """Every tensor of the file (but ``skip`` prefixes) equals the backbone's; returns the count."""
    own = net.state_dict()
    checked = 0
    for key, tensor in state.items():
        if key.startswith(skip) or key.endswith("num_batches_tracked"):
            continue
        assert torch.equal(own[key], tensor), key
        checked += 1
    return checked


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    state = torchvision.models.resnet50(weights=None).state_dict()
    for key in state:  # make BN statistics non-trivial so that loading them is visible
        if key.endswith(("running_mean", "running_var")):
            state[key] = torch.rand_like(state[key]) + 0.5
    path = tmp_path_factory.mktemp("weights") / "resnet50.pth"
    torch.save(state, path)
    return path, state


def test_resnet50_from_path_maps_every_trunk_tensor(resnet_file: tuple[Path, dict]) -> None:
    path, state = resnet_file
    net = backbones.create("resnet50", num_classes=7, weights=str(path))
    checked = assert_trunk_loaded(net, state, skip=("fc.",))
    assert checked == 265  # 53 conv weights + 53 BNs × 4 tensors
    assert not torch.equal(net.head.fc.weight[:7], state["fc.weight"][:7, :])  # 7 classes: new fc


def test_resnet50_keeps_the_1000_class_fc(resnet_file: tuple[Path, dict]) -> None:
    path, state = resnet_file
    net = backbones.create("resnet50", num_classes=1000, large_feature_map=True, weights=path)
    assert torch.equal(net.head.fc.weight, state["fc.weight"])
    assert torch.equal(net.head.fc.bias, state["fc.bias"])


def test_imagenet_weights_come_from_the_torch_cache(
    resnet_file: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, state = resnet_file
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = cached_file(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url)
    assert target == tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    target.parent.mkdir(parents=True)
    target.symlink_to(path)
    net = backbones.create("resnet50", num_classes=3, weights="imagenet")
    assert assert_trunk_loaded(net, state, skip=("fc.",)) == 265


def test_vgg16_from_path(tmp_path: Path) -> None:
    """A torchvision VGG16 state dict (its ``features.*`` plus a classifier that is ignored)."""
    torch.manual_seed(1)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    state |= {"classifier.0.weight": torch.zeros(3, 3), "classifier.6.bias": torch.zeros(3)}
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    for large in (False, True):
        net = backbones.create("vgg16", num_classes=5, large_feature_map=large, weights=path)
        assert assert_trunk_loaded(net, state, skip=("classifier.",)) == 26  # 13 convs


@pytest.mark.slow
def test_vgg16_from_a_full_torchvision_state_dict(tmp_path: Path) -> None:
    state = torchvision.models.vgg16(weights=None).state_dict()
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    net = backbones.create("vgg16", num_classes=5, weights=path)
    assert assert_trunk_loaded(net, state, skip=("classifier.",)) == 26


def test_inception_v3_from_path(tmp_path: Path) -> None:
    torch.manual_seed(2)
    tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = tv.state_dict()
    path = tmp_path / "inception.pth"
    torch.save(state, path)
    net = backbones.create("inception_v3", num_classes=5, weights=path)
    checked = assert_trunk_loaded(net, state, skip=("Mixed_7", "AuxLogits.", "fc."))
    assert checked == sum(
        1
        for k in net.state_dict()
        if k.startswith(("Conv2d_", "Mixed_")) and not k.endswith("num_batches_tracked")
    )


def test_tiny_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = backbones.create("tiny", num_classes=4)
    path = tmp_path / "tiny.pt"
    torch.save(source.state_dict(), path)
    net = backbones.create("tiny", num_classes=4, weights=path)
    for key, tensor in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], tensor), key
    other = backbones.create("tiny", num_classes=9, weights=path)  # head skipped: other shape
    assert torch.equal(other.conv3[0].weight, source.conv3[0].weight)


def test_imagenet_missing_gives_one_line_with_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as info:
        backbones.create("vgg16", num_classes=3, weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    assert "'vgg16-397923af.pth'" in message
    assert f"'{tmp_path / 'hub' / 'checkpoints'}'" in message
    assert "never downloads" in message


def test_tiny_has_no_imagenet_weights() -> None:
    with pytest.raises(WeightsError, match="'tiny' has no ImageNet weights"):
        backbones.create("tiny", num_classes=3, weights="imagenet")


def test_key_mismatch_lists_missing_and_unexpected_keys(resnet_file: tuple[Path, dict]) -> None:
    path, _ = resnet_file
    with pytest.raises(WeightsError) as info:
        backbones.create("tiny", num_classes=3, weights=path)
    message = str(info.value)
    assert "do not fit backbone 'tiny'" in message
    assert "missing 20 key(s): conv1.0.weight" in message
    assert "unexpected" in message and "bn1.bias" in message and "(+" in message


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    state = backbones.create("tiny", num_classes=3).state_dict()
    state["conv3.0.weight"] = torch.zeros(1, 1, 3, 3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match=r"wrong shape .*conv3\.0\.weight \(1, 1, 3, 3\)"):
        backbones.create("tiny", num_classes=3, weights=tmp_path / "bad.pt")


def test_bad_weights_argument_and_file(tmp_path: Path) -> None:
    with pytest.raises(
        WeightsError, match="neither 'imagenet', 'none', 'synthetic-pretrained' nor an existing"
    ):
        backbones.create("tiny", num_classes=3, weights="imagnet")
    (tmp_path / "list.pt").write_bytes(b"")
    torch.save({"state_dict": {"a": torch.zeros(1)}, "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(WeightsError, match="not a state dict.*'state_dict', 'epoch'"):
        backbones.create("tiny", num_classes=3, weights=tmp_path / "ckpt.pt")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        backbones.create("tiny", num_classes=3, weights=tmp_path / "list.pt")
