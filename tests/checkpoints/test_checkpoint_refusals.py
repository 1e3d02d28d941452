"""Detection, ``module.`` prefixes and every refusal: one line naming the key or value and the fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from checkpoint_cases import container, reference_state

from wsolkit.checkpoints import (
    FORMATS,
    CheckpointImportError,
    Converted,
    Layout,
    convert,
    detect,
    read_source,
    source_state_dict,
)
from wsolkit.errors import PluginError, WsolkitError


def _layout(fmt: str, backbone: str, architecture: str, lfm: bool | None = None) -> Layout:
    return next(
        lay
        for lay in FORMATS[fmt].layouts
        if (lay.backbone, lay.architecture) == (backbone, architecture)
        and lay.large_feature_map in (lfm, None)
    )


VGG_CAM = _layout("wsolevaluation", "vgg16", "cam", False)
VGG_CAM_28 = _layout("wsolevaluation", "vgg16", "cam", True)
VGG_ADL = _layout("wsolevaluation", "vgg16", "adl", False)
VGG_DROP = _layout("bridging-gap", "vgg16", "drop", False)
RESNET_DROP = _layout("bridging-gap", "resnet50", "drop")
DAWSOL_ADL = _layout("da-wsol", "resnet50", "adl")


def _refused(match: str, call: Callable[..., object], *args: object, **kwargs: object) -> str:
    with pytest.raises(CheckpointImportError, match=match) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- detection --------------------------------------------------------------------------------
def test_each_trainer_container_is_recognised_with_a_reason() -> None:
    we = container("wsolevaluation", reference_state(VGG_ADL, "adl"), "vgg16")
    assert detect(we) == (
        "wsolevaluation",
        "keys 'state_dict', 'architecture', 'epoch', 'optimizer', as wsolevaluation's main.py: "
        "Trainer._torch_save_model saves; key names fit vgg16 / adl (large_feature_map=False)",
    )
    bg = container("bridging-gap", reference_state(RESNET_DROP, "aligned-eil"), "resnet50")
    name, reason = detect(bg)
    assert name == "bridging-gap" and reason.endswith("key names fit resnet50 / aligned-eil")
    da = container("da-wsol", reference_state(DAWSOL_ADL, "adl"), "resnet50")
    da["state_dict_domain_classifier"] = {"fc.weight": torch.zeros(1, 2048, 1, 1)}
    name, reason = detect(da)
    assert name == "da-wsol"
    assert reason.startswith("keys 'state_dict_extractor', 'state_dict_classifier'")


def test_a_vanilla_network_fits_both_formats_and_the_reason_says_so() -> None:
    name, reason = detect(container("bridging-gap", reference_state(VGG_CAM, "cam"), "vgg16"))
    assert name == "bridging-gap"
    assert reason.endswith("(and wsolevaluation's, whose network is the same)")


def test_the_key_names_overrule_a_container_of_the_other_format() -> None:
    # wsolevaluation ADL weights re-saved as {'state_dict': ...}: bridging-gap has no ADL.
    name, reason = detect({"state_dict": reference_state(VGG_ADL, "adl")})
    assert name == "wsolevaluation"
    assert "key names fit wsolevaluation's vgg16 / adl" in reason


def test_bare_state_dicts_with_module_prefixes_anywhere() -> None:
    drop = reference_state(VGG_DROP, "aligned-eil")
    bare = {
        ("module." + k if i % 2 else k.replace(".", ".module.", 1)): v
        for i, (k, v) in enumerate(drop.items())
    }
    name, reason = detect(bare)
    assert (name, reason.split(";")[0]) == ("bridging-gap", "a bare state dict")
    source = read_source(bare, name)
    assert source.unwrapped == len(drop) and set(source.state) == set(drop)
    converted = convert(source, backbone="vgg16", method="aligned-eil", large_feature_map=False)
    assert "removed 'module.' (DataParallel / DDP) from 30 key(s)" in converted.notes
    assert source_state_dict(bare, "bridging-gap").keys() == drop.keys()


def test_module_prefixes_inside_each_da_wsol_state_dict() -> None:
    saved = container("da-wsol", reference_state(DAWSOL_ADL, "adl"), "resnet50")
    for entry in ("state_dict_extractor", "state_dict_classifier"):
        saved[entry] = {"module." + k: v for k, v in saved[entry].items()}
    saved["state_dict_extractor"]["module.fc.weight"] = torch.zeros(5, 2048)  # ResNetAdl's own
    source = read_source(saved, "da-wsol")
    assert "extractor.fc.weight" in source.state and source.records == {
        "architecture": "resnet50",
        "epoch": 10,
    }
    converted = convert(source, backbone="resnet50", method="adl", large_feature_map=False)
    assert converted.confirmed == ("num_classes", "method")
    assert any(n.startswith("not imported: 'extractor.fc.weight'") for n in converted.notes)
    assert converted.state_dict["backbone.head.fc.weight"].shape == (5, 2048)


def test_what_the_weights_cannot_tell_is_said_in_the_notes() -> None:
    saved = container("wsolevaluation", reference_state(VGG_CAM_28, "has"), "vgg16")
    converted = convert(
        read_source(saved, "wsolevaluation"), backbone="vgg16", method="has", large_feature_map=True
    )
    assert converted.confirmed == ("num_classes", "large_feature_map")
    assert converted.notes == (
        "method 'has' is taken as given: cam, cutmix, has have the same weights in wsolevaluation",
        "container entries not imported: 'optimizer'",
    )
    assert converted.mapping.splitlines() == [
        "features.{23..28}.* → backbone.features.{24..29}.*",
        "fc.* → backbone.head.fc.*",
        "* → backbone.*",
    ]


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("loaded", "match"),
    [
        (torch.zeros(3), "ckpt.pth is not a checkpoint wsolkit can import: it holds a Tensor"),
        ([1, 2], "it holds a list, not a dict of weights"),
        (
            {},
            "is not a checkpoint of wsolevaluation, bridging-gap, da-wsol, ts-cam: it holds an empty",
        ),
        ({"model": {"a": 1}}, "it holds a dict with keys 'model', none of which holds weights"),
        ({"format": "wsolkit-checkpoint/1", "model": {}}, "is already a wsolkit checkpoint"),
        ({"state_dict": [1]}, "ckpt.pth: entry 'state_dict' holds a list, not a state dict"),
        (
            {"state_dict": {"epoch": 3}},
            r"ckpt.pth holds no tensors \(a dict with keys 'state_dict'\)",
        ),
        ({"foo.weight": torch.zeros(2)}, "fit no known layout of wsolevaluation, bridging-gap"),
        (
            {"module.fc.weight": torch.zeros(2), "fc.weight": torch.zeros(2)},
            "keys 'module.fc.weight' and 'fc.weight' are one key once 'module.'",
        ),
    ],
)
def test_detect_refuses_what_is_not_a_checkpoint(loaded: object, match: str) -> None:
    _refused(match, detect, loaded, origin="ckpt.pth")


def test_read_source_refuses_the_wrong_container_and_unknown_formats() -> None:
    bare = reference_state(VGG_CAM, "cam")
    _refused(
        "is not a da-wsol checkpoint: that format keeps its weights under "
        "'state_dict_extractor' and 'state_dict_classifier'.*try --from auto",
        read_source,
        bare,
        "da-wsol",
    )
    _refused(
        "unknown checkpoint format 'timm'; use one of wsolevaluation, bridging-gap, da-wsol, ts-cam or 'auto'",
        read_source,
        bare,
        "timm",
    )


def _convert(layout: Layout, made_with: str, **settings: object) -> Converted:
    """Convert a file of ``layout`` (generated for method ``made_with``), overriding ``settings``."""
    fmt = next(name for name, f in FORMATS.items() if layout in f.layouts)
    saved = container(fmt, reference_state(layout, made_with), layout.backbone)
    source = read_source(saved, fmt)
    arguments = {
        "backbone": layout.backbone,
        "method": made_with,
        "large_feature_map": bool(layout.large_feature_map),
    }
    return convert(source, **{**arguments, **settings}, origin="ckpt.pth")


def test_large_feature_map_contradicting_the_weights() -> None:
    _refused(
        r"large_feature_map=False contradicts the weights of ckpt.pth: their key names are those "
        r"of the 28×28 network \(wsol/vgg.py: VggCam\(make_layers\(configs_dict\['cam'\]\['28x28'\]\)\)\); "
        r"pass large_feature_map=True",
        _convert,
        VGG_CAM_28,
        "cam",
        large_feature_map=False,
    )


def test_large_feature_map_is_trusted_where_the_weights_cannot_tell() -> None:
    converted = _convert(RESNET_DROP, "aligned-eil", large_feature_map=True)
    assert converted.large_feature_map and "large_feature_map" not in converted.confirmed
    assert converted.notes[0].startswith("large_feature_map=True is taken as given")


def test_a_class_count_contradicting_the_classifier() -> None:
    _refused(
        r"num_classes=200 contradicts ckpt.pth: its classifier 'fc.weight' has 5 rows \(5, 1024\); "
        "pass 5 or leave num_classes out",
        _convert,
        VGG_DROP,
        "aligned-eil",
        num_classes=200,
    )
    assert _convert(VGG_DROP, "aligned-eil", num_classes=5).num_classes == 5


def test_a_method_whose_layout_does_not_match_the_keys() -> None:
    message = _refused(
        "ckpt.pth does not fit --from wsolevaluation vgg16 / cam|has|cutmix",
        _convert,
        VGG_ADL,
        "adl",
        method="cutmix",
    )
    assert "missing 8 key(s): 'features.17.weight', 'features.17.bias'" in message
    assert "unexpected 8 key(s): 'features.18.weight', 'features.18.bias'" in message
    assert message.endswith(
        "its keys fit --from wsolevaluation vgg16 / adl (large_feature_map=False)"
    )


def test_a_combination_the_format_does_not_have() -> None:
    _refused(
        "format 'bridging-gap' has no layout for backbone 'inception_v3' with method 'cam' "
        r"\(it has vgg16: cam, aligned-eil; resnet50: cam, aligned-eil\); its keys fit "
        r"--from bridging-gap resnet50 / aligned-eil",
        _convert,
        RESNET_DROP,
        "aligned-eil",
        backbone="inception_v3",
        method="cam",
    )


def test_a_backbone_the_file_does_not_record() -> None:
    _refused(
        "ckpt.pth records architecture 'vgg16' but backbone 'resnet50' was asked for; "
        "use --backbone vgg16",
        _convert,
        VGG_ADL,
        "adl",
        backbone="resnet50",
    )


def test_a_shape_that_contradicts_the_architecture() -> None:
    state = reference_state(VGG_DROP, "aligned-eil")
    state["conv6.weight"] = torch.zeros(1024, 256, 3, 3)
    source = read_source(container("bridging-gap", state, "vgg16"), "bridging-gap")
    _refused(
        r"ckpt.pth: 'conv6.weight' has shape \(1024, 256, 3, 3\), but wsolkit's vgg16 / "
        r"aligned-eil with 5 classes needs \(1024, 512, 3, 3\) for 'backbone.conv6.weight'; the "
        r"file is not a bridging-gap vgg16 / aligned-eil \(large_feature_map=False\) network",
        convert,
        source,
        backbone="vgg16",
        method="bridging-gap",
        large_feature_map=False,
        origin="ckpt.pth",
    )


def test_unknown_names_are_the_registry_s_errors() -> None:
    with pytest.raises(PluginError, match="unknown backbone 'vgg'. Did you mean 'vgg16'?"):
        _convert(VGG_CAM, "cam", backbone="vgg")
    assert issubclass(CheckpointImportError, WsolkitError)


@pytest.mark.parametrize(
    ("backbone", "architecture", "fits"),
    [
        ("vgg16", "acol", "vgg16 / acol"),
        ("vgg16", "spg", "vgg16 / spg"),
        ("resnet50", "spg", "resnet50 / spg"),
        ("inception_v3", "acol", "inception_v3 / acol"),
    ],
)
def test_acol_and_spg_networks_asked_as_cam_name_their_own_layout(
    backbone: str, architecture: str, fits: str
) -> None:
    """Not a generic key dump: the refusal names the ACoL / SPG layout the keys fit."""
    layout = _layout("wsolevaluation", backbone, architecture)
    saved = container("wsolevaluation", reference_state(layout, architecture), backbone)
    assert detect(saved)[0] == "wsolevaluation"
    message = _refused(
        f"ckpt.pth does not fit --from wsolevaluation {backbone} / cam\\|has\\|cutmix",
        convert,
        read_source(saved, "wsolevaluation"),
        backbone=backbone,
        method="cam",
        large_feature_map=False,
        origin="ckpt.pth",
    )
    assert message.endswith(f"its keys fit --from wsolevaluation {fits}")
