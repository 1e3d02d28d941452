"""The key tables: complete, pinned to the references' literal key names, and round-tripping.

Three independent checks of every table:

- literal key names and shapes taken from the reference code (``PINNED``), so a
  wrong table cannot pass by being inverted and re-applied;
- the key sets of networks rebuilt in the reference's module layout
  (``checkpoint_references.py``) equal what the tables expect;
- a state dict generated in the reference's names from the table converts back
  to wsolkit's, tensor for tensor, and loads with ``strict=True``.
"""

from __future__ import annotations

import pytest
import torch
from checkpoint_cases import (
    CASES,
    NUM_CLASSES,
    container,
    meta_model,
    reference_state,
    wsolkit_state,
)
from checkpoint_references import ReferenceCamClassifier, ReferenceResNet, ReferenceVgg, prefixed

from wsolkit.checkpoints import (
    FORMATS,
    Layout,
    convert,
    detect,
    expected_keys,
    read_source,
    target_shapes,
)
from wsolkit.checkpoints.rules import invert_key, map_key
from wsolkit.registry import backbones, methods

K = NUM_CLASSES
# Literal keys (and shapes) of the reference networks, read off the reference code:
# (format, backbone, reference architecture, large_feature_map) → present keys, absent keys.
PINNED: dict[tuple[str, str, str, bool | None], tuple[dict[str, tuple[int, ...]], set[str]]] = {
    ("wsolevaluation", "vgg16", "cam", False): (
        {
            "features.0.weight": (64, 3, 3, 3),
            "features.21.weight": (512, 512, 3, 3),  # conv4_3
            "features.24.weight": (512, 512, 3, 3),  # conv5_1 after pool4 (23)
            "features.28.bias": (512,),  # conv5_3
            "conv6.weight": (1024, 512, 3, 3),
            "fc.weight": (K, 1024),
        },
        {"features.23.weight", "features.30.weight"},
    ),
    ("wsolevaluation", "vgg16", "cam", True): (
        {"features.23.weight": (512, 512, 3, 3), "features.27.weight": (512, 512, 3, 3)},
        {"features.28.weight", "features.24.weight"},
    ),
    ("wsolevaluation", "vgg16", "adl", False): (
        {
            "features.14.weight": (256, 256, 3, 3),  # conv3_3; ADL at 17 after pool3 (16)
            "features.18.weight": (512, 256, 3, 3),  # conv4_1
            "features.22.weight": (512, 512, 3, 3),  # conv4_3; ADL 24, pool4 25
            "features.26.weight": (512, 512, 3, 3),  # conv5_1
            "features.30.weight": (512, 512, 3, 3),  # conv5_3; ADL 32
        },
        {"features.17.weight", "features.24.weight", "features.25.weight"},
    ),
    ("wsolevaluation", "vgg16", "adl", True): (
        {"features.25.weight": (512, 512, 3, 3), "features.29.weight": (512, 512, 3, 3)},
        {"features.26.weight", "features.30.weight"},
    ),
    ("wsolevaluation", "resnet50", "cam", None): (
        {
            "conv1.weight": (64, 3, 7, 7),
            "layer3.0.downsample.0.weight": (1024, 512, 1, 1),
            "layer3.5.bn3.running_var": (1024,),
            "layer4.2.bn3.num_batches_tracked": (),
            "fc.weight": (K, 2048),
        },
        {"layer3.6.conv1.weight", "layer4.3.conv1.weight"},
    ),
    ("wsolevaluation", "resnet50", "adl", None): (
        {
            "layer3.0.conv1.weight": (256, 512, 1, 1),
            "layer3.2.conv1.weight": (256, 1024, 1, 1),  # block 1 after ADL at layer3.1
            "layer3.6.bn3.weight": (1024,),
            "layer4.0.downsample.1.running_mean": (2048,),
            "layer4.3.conv3.weight": (2048, 512, 1, 1),  # block 2; ADL at layer4.4
            "fc.bias": (K,),
        },
        {"layer3.1.conv1.weight", "layer4.1.conv1.weight"},
    ),
    ("wsolevaluation", "inception_v3", "cam", None): (
        {
            "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
            "Conv2d_4a_3x3.bn.running_var": (192,),
            "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
            "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
            "SPG_A3_1b.0.weight": (1024, 768, 3, 3),
            "SPG_A3_2b.0.bias": (1024,),
            "SPG_A4.weight": (K, 1024, 1, 1),
            "SPG_A4.bias": (K,),
        },
        {"Mixed_7a.branch3x3_1.conv.weight", "fc.weight", "AuxLogits.fc.weight"},
    ),
    ("wsolevaluation", "vgg16", "acol", None): (
        {
            "features.21.weight": (512, 512, 3, 3),  # conv4_3; pool4 ('M2' at 28×28) at 23
            "features.28.weight": (512, 512, 3, 3),  # conv5_3
            "classifier_A.0.weight": (1024, 512, 3, 3),
            "classifier_A.2.weight": (1024, 1024, 3, 3),
            "classifier_A.4.weight": (K, 1024, 1, 1),
            "classifier_B.4.bias": (K,),
        },
        {"conv6.weight", "fc.weight", "classifier_A.1.weight", "features.30.weight"},
    ),
    ("wsolevaluation", "vgg16", "spg", None): (
        {
            "features.14.weight": (256, 256, 3, 3),  # conv3_3; features ends with pool3
            "SPG_A_1.0.weight": (512, 256, 3, 3),  # conv4_1
            "SPG_A_1.4.weight": (512, 512, 3, 3),  # conv4_3
            "SPG_A_2.4.bias": (512,),  # conv5_3
            "SPG_A_3.2.weight": (512, 512, 3, 3),
            "SPG_A_4.weight": (K, 512, 1, 1),
            "SPG_B_1a.0.weight": (512, 512, 3, 3),
            "SPG_B_2a.0.bias": (512,),
            "SPG_B_shared.0.weight": (512, 512, 3, 3),
            "SPG_B_shared.2.weight": (1, 512, 1, 1),
            "SPG_C.2.weight": (1, 512, 1, 1),
        },
        {"features.17.weight", "SPG_A_1.6.weight", "SPG_A_4.0.weight", "fc.weight"},
    ),
    ("wsolevaluation", "resnet50", "acol", None): (
        {
            "layer4.2.conv3.weight": (2048, 512, 1, 1),
            "classifier_A.0.weight": (1024, 2048, 3, 3),
            "classifier_B.4.weight": (K, 1024, 1, 1),
        },
        {"fc.weight"},
    ),
    ("wsolevaluation", "resnet50", "spg", None): (
        {
            "layer2.3.bn3.running_mean": (512,),
            "SPG_A1.0.downsample.0.weight": (1024, 512, 1, 1),
            "SPG_A2.0.conv1.weight": (256, 1024, 1, 1),  # layer3's block 1
            "SPG_A2.4.bn3.running_var": (1024,),  # layer3's block 5
            "layer4.0.conv1.weight": (512, 1024, 1, 1),
            "SPG_A4.weight": (K, 2048, 1, 1),
            "SPG_B_1a.0.weight": (1024, 1024, 3, 3),
            "SPG_B_shared.2.weight": (1, 1024, 1, 1),
            "SPG_C.0.weight": (512, 2048, 3, 3),
        },
        {"layer3.0.conv1.weight", "SPG_A2.5.conv1.weight", "fc.weight"},
    ),
    ("wsolevaluation", "inception_v3", "acol", None): (
        {
            "Mixed_6e.branch_pool.conv.weight": (192, 768, 1, 1),
            "classifier_A.0.weight": (1024, 768, 3, 3),
            "classifier_B.4.weight": (K, 1024, 1, 1),
        },
        {"SPG_A3_1b.0.weight", "SPG_A4.weight", "fc.weight"},
    ),
    ("wsolevaluation", "inception_v3", "spg", None): (
        {
            "SPG_A3_1b.0.weight": (1024, 768, 3, 3),
            "SPG_A3_2b.0.weight": (1024, 1024, 3, 3),
            "SPG_A4.weight": (K, 1024, 1, 1),
            "SPG_B_1a.0.weight": (512, 288, 3, 3),  # on Mixed_5d's output
            "SPG_B_2a.0.weight": (512, 768, 3, 3),  # on Mixed_6d's output (not 6e's)
            "SPG_B_shared.2.weight": (1, 512, 1, 1),
            "SPG_C.0.weight": (512, 1024, 3, 3),
        },
        {"fc.weight"},
    ),
    ("bridging-gap", "vgg16", "drop", False): (
        {
            "features.0.0.weight": (64, 3, 3, 3),
            "features.0.21.weight": (512, 512, 3, 3),  # conv4_3
            "features.2.1.weight": (512, 512, 3, 3),  # conv5_1 after pool4 (features.2.0)
            "features.2.5.bias": (512,),  # conv5_3
            "conv6.weight": (1024, 512, 3, 3),
            "fc.weight": (K, 1024),
        },
        {"features.1.weight", "features.2.0.weight", "features.24.weight"},
    ),
    ("bridging-gap", "vgg16", "drop", True): (
        {"features.2.0.weight": (512, 512, 3, 3), "features.2.4.weight": (512, 512, 3, 3)},
        {"features.2.5.weight"},
    ),
    ("bridging-gap", "resnet50", "drop", None): (
        {
            "layer4_1.0.downsample.0.weight": (2048, 1024, 1, 1),
            "layer4_1.0.conv2.weight": (512, 512, 3, 3),
            "layer4_2.0.conv1.weight": (512, 2048, 1, 1),
            "layer4_2.1.bn3.running_var": (2048,),
            "fc.weight": (K, 2048),
        },
        {"layer4.0.conv1.weight", "layer4_2.2.conv1.weight"},
    ),
    ("da-wsol", "resnet50", "cam", None): (
        {
            "extractor.conv1.weight": (64, 3, 7, 7),
            "extractor.layer4.2.bn3.running_mean": (2048,),
            "classifier.fc.weight": (K, 2048, 1, 1),  # CAMClassifier: a 1×1 conv
            "classifier.fc.bias": (K,),
        },
        {"extractor.fc.weight", "fc.weight"},
    ),
    ("da-wsol", "resnet50", "adl", None): (
        {
            "extractor.layer3.6.conv1.weight": (256, 1024, 1, 1),
            "classifier.fc.weight": (K, 2048, 1, 1),
        },
        {"extractor.layer3.1.conv1.weight"},
    ),
    ("da-wsol", "inception_v3", "cam", None): (
        {
            "extractor.Mixed_6e.branch_pool.conv.weight": (192, 768, 1, 1),
            "extractor.SPG_A3_2b.0.weight": (1024, 1024, 3, 3),
            "classifier.fc.weight": (K, 1024, 1, 1),
        },
        {"extractor.SPG_A4.weight"},
    ),
}


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal tensors; the same memory viewed the same way (a renamed tensor) is equal at once."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.data_ptr() == b.data_ptr() and a.stride() == b.stride():
        return True
    return torch.equal(a, b)


def _layout(fmt: str, backbone: str, architecture: str, lfm: bool | None) -> Layout:
    (layout,) = [
        lay
        for lay in FORMATS[fmt].layouts
        if (lay.backbone, lay.architecture) == (backbone, architecture)
        and lay.large_feature_map in (lfm, None)
    ]
    return layout


def test_the_formats_name_registered_backbones_and_methods() -> None:
    for fmt in FORMATS.values():
        assert fmt.repository.startswith("https://github.com/") and "\n" not in fmt.summary
        assert set(fmt.backbones) <= set(backbones.names())
        assert set(fmt.methods) <= set(methods.names())
        for layout in fmt.layouts:
            # the canonical names: convert() resolves aliases before looking layouts up
            assert all(methods.load(m).name == m for m in layout.methods)


@pytest.mark.parametrize(("fmt", "layout", "method"), CASES)
def test_every_wsolkit_key_comes_from_one_reference_key(
    fmt: str, layout: Layout, method: str
) -> None:
    expected = expected_keys(layout, method)
    target = target_shapes(layout.backbone, method, bool(layout.large_feature_map), K)
    assert sorted(expected.values()) == sorted(target)
    for source, key in expected.items():
        assert map_key(source, layout.rules)[0] == key
        assert invert_key(key, layout.rules) == source


@pytest.mark.parametrize("case", sorted(PINNED, key=str), ids=str)
def test_literal_reference_keys(case: tuple[str, str, str, bool | None]) -> None:
    present, absent = PINNED[case]
    layout = _layout(*case)
    state = reference_state(layout, layout.methods[0])
    for key, shape in present.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    assert not absent & set(state)


def _rebuilt(fmt: str, layout: Layout) -> dict[str, torch.Tensor]:
    """The state dict of the network rebuilt in the reference's module layout (meta device)."""
    lfm = bool(layout.large_feature_map)
    with torch.device("meta"):
        if fmt == "da-wsol":
            kind = "extractor-adl" if layout.architecture == "adl" else "extractor"
            extractor = ReferenceResNet(kind, lfm, K).state_dict()
            classifier = ReferenceCamClassifier(2048, K).state_dict()
            return prefixed(extractor, "extractor.") | prefixed(classifier, "classifier.")
        if layout.backbone == "vgg16":
            return dict(ReferenceVgg(layout.architecture, lfm, K).state_dict())
        return dict(ReferenceResNet(layout.architecture, lfm, K).state_dict())


REBUILT = [
    pytest.param(
        fmt, layout, id=f"{fmt}-{layout.backbone}-{layout.architecture}-{layout.large_feature_map}"
    )
    for fmt, source in FORMATS.items()
    for layout in source.layouts
    if layout.backbone in ("vgg16", "resnet50")
]


@pytest.mark.parametrize(("fmt", "layout"), REBUILT)
def test_networks_rebuilt_in_the_reference_layout_have_the_table_keys(
    fmt: str, layout: Layout
) -> None:
    rebuilt = _rebuilt(fmt, layout)
    generated = reference_state(layout, layout.methods[0])
    # DA-WSOL's ResNetAdl carries a linear layer its solver never calls: the table drops it.
    dropped = {k for k in rebuilt if map_key(k, layout.rules)[0] is None}
    assert dropped == (
        {"extractor.fc.weight", "extractor.fc.bias"}
        if fmt == "da-wsol" and layout.architecture == "adl"
        else set()
    )
    assert set(rebuilt) - dropped == set(generated)
    for key, value in generated.items():
        assert tuple(rebuilt[key].shape) == tuple(value.shape), key


@pytest.mark.parametrize(("fmt", "layout", "method"), CASES)
def test_round_trip_is_exact_and_loads_strictly(fmt: str, layout: Layout, method: str) -> None:
    original = wsolkit_state(layout, method)
    saved = container(fmt, reference_state(layout, method, original), layout.backbone)
    assert detect(saved)[0] == fmt
    source = read_source(saved, fmt)
    lfm = bool(layout.large_feature_map)
    converted = convert(source, backbone=layout.backbone, method=method, large_feature_map=lfm)
    assert converted.num_classes == K
    assert list(converted.state_dict) == list(original)
    for key, tensor in original.items():
        assert _same(converted.state_dict[key], tensor), key
    model = meta_model(layout.backbone, method, lfm)
    model.load_state_dict(converted.state_dict, strict=True, assign=True)
    assert all(" → " in line for line in converted.mapping.splitlines())
