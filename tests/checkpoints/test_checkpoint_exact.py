"""An imported checkpoint computes exactly what the reference network computes.

The networks are rebuilt in the reference's module layout (``checkpoint_references.py``,
written from the published structure), given random float64 weights, saved as each
reference trainer saves them, read back with ``weights_only=True``, detected,
converted and loaded into wsolkit's model. Logits and CAMs must then be equal to
the reference's bit for bit (SPEC: wsolkit's models are the references' networks);
DA-WSOL's CAM differs by a per-class scale and offset (its 1×1 conv keeps the bias,
wsolkit's CAM is the channel mean), so its min-max normalized CAMs are compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from checkpoint_cases import meta_model
from checkpoint_references import (
    ReferenceCamClassifier,
    ReferenceResNet,
    ReferenceVgg,
    normalize,
    randomize,
)
from torch import Tensor, nn

from wsolkit.checkpoints import convert, detect, read_source
from wsolkit.engine.checkpoint import load_torch_file
from wsolkit.methods import WsolModel
from wsolkit.registry import backbones, methods

K = 5
# (format, backbone, reference kind, wsolkit method, large_feature_map, DataParallel-saved);
# the DataParallel-saved ones also go through torch.save and load_torch_file. One case per
# reference network runs by default; the other feature-map sizes and methods are slow ones.
_FAST = [
    ("wsolevaluation", "vgg16", "cam", "cam", False, True),
    ("wsolevaluation", "vgg16", "adl", "adl", True, False),
    ("bridging-gap", "vgg16", "drop", "aligned-eil", False, False),
    ("wsolevaluation", "resnet50", "cam", "cutmix", False, False),
    ("wsolevaluation", "resnet50", "adl", "adl", True, False),
    ("bridging-gap", "resnet50", "drop", "aligned-eil", False, False),
    ("da-wsol", "resnet50", "extractor", "cam", False, True),
    ("da-wsol", "resnet50", "extractor-adl", "adl", True, False),
]
_SLOW = [
    ("wsolevaluation", "vgg16", "cam", "has", True, False),
    ("wsolevaluation", "vgg16", "adl", "adl", False, False),
    ("bridging-gap", "vgg16", "drop", "aligned-eil", True, True),
    ("bridging-gap", "resnet50", "cam", "cam", True, True),
]
CASES = [
    pytest.param(
        *case,
        marks=[pytest.mark.slow] if case in _SLOW else [],
        id="-".join([*map(str, case[:4]), "28" if case[4] else "14"]),
    )
    for case in _FAST + _SLOW
]


def _random(module: nn.Module, seed: int, dtype: torch.dtype = torch.float64) -> nn.Module:
    """``module`` (built on the meta device) on the CPU with random weights of ``dtype``."""
    module = module.to(dtype).to_empty(device="cpu")
    randomize(module, torch.Generator().manual_seed(seed))
    return module.eval()


def _optimizer(module: nn.Module) -> dict[str, object]:
    return torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9).state_dict()


def _saved(fmt: str, backbone: str, parts: dict[str, nn.Module], wrap: bool) -> dict[str, object]:
    """The dict the reference trainer ``torch.save``s (optionally from a DataParallel)."""

    def state(module: nn.Module) -> dict[str, Tensor]:
        return (nn.DataParallel(module) if wrap else module).state_dict()

    if fmt == "wsolevaluation":
        model = parts["model"]
        saved = {
            "architecture": backbone,
            "epoch": 40,
            "state_dict": state(model),
            "optimizer": _optimizer(model),
        }
    elif fmt == "bridging-gap":
        saved = {"state_dict": state(parts["model"])}
    else:
        extractor, classifier = parts["extractor"], parts["classifier"]
        saved = {
            "architecture": backbone,
            "epoch": 10,
            "state_dict_extractor": state(extractor),
            "optimizer_extractor": _optimizer(extractor),
            "state_dict_classifier": state(classifier),
            "optimizer_classifier": _optimizer(classifier),
        }
    return saved


def _import(loaded: object, backbone: str, method: str, lfm: bool) -> tuple[str, WsolModel]:
    fmt, _ = detect(loaded)
    converted = convert(
        read_source(loaded, fmt), backbone=backbone, method=method, large_feature_map=lfm
    )
    model = meta_model(backbone, method, lfm, converted.num_classes)
    model.load_state_dict(converted.state_dict, strict=True, assign=True)
    return fmt, model.eval()


@pytest.mark.parametrize(
    "size", [32, pytest.param(224, marks=pytest.mark.slow)], ids=lambda s: f"{s}px"
)
@pytest.mark.parametrize(("fmt", "backbone", "kind", "method", "lfm", "wrap"), CASES)
def test_imported_model_equals_the_reference(
    tmp_path: Path,
    fmt: str,
    backbone: str,
    kind: str,
    method: str,
    lfm: bool,
    wrap: bool,
    size: int,
) -> None:
    generator = torch.Generator().manual_seed(size)
    images = torch.randn(1, 3, size, size, generator=generator, dtype=torch.float64)
    labels = torch.tensor([3])
    with torch.device("meta"):
        if backbone == "vgg16":
            reference = ReferenceVgg(kind, lfm, K)
        else:
            reference = ReferenceResNet(kind, lfm, K)
        classifier = ReferenceCamClassifier(2048, K)
    reference = _random(reference, seed=1)
    classifier = _random(classifier, seed=2)
    parts = {"extractor": reference, "classifier": classifier, "model": reference}
    saved = _saved(fmt, backbone, parts, wrap)
    if wrap:  # through the file, as the engine reads it (weights_only=True)
        torch.save(saved, tmp_path / "checkpoint.pth.tar")
        saved = load_torch_file(tmp_path / "checkpoint.pth.tar")
    detected, model = _import(saved, backbone, method, lfm)
    assert detected == fmt
    with torch.no_grad():
        logits, features = model.infer(images)
        cams = model.backbone.head.class_maps(features, labels[:, None])[:, 0]
        if fmt == "da-wsol":
            ref_features = reference.feature_map(images)
            ref_logits, ref_cams = classifier(ref_features, labels)
            assert torch.equal(features, ref_features)
            torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-12)
            assert (normalize(cams) - ref_cams).abs().max().item() < 1e-12
        else:
            ref_logits, ref_cams = reference(images, labels)
            assert torch.equal(logits, ref_logits)
            assert torch.equal(cams, ref_cams)
            assert (cams - ref_cams).abs().max().item() == 0.0
        # the public path (CAMs in float32 from one forward pass) agrees after normalization
        public = model.cams(images, labels).cams[:, 0]
        torch.testing.assert_close(normalize(public.double()), normalize(cams), rtol=0, atol=1e-5)


def test_a_converted_state_dict_loads_into_a_freshly_built_model(tmp_path: Path) -> None:
    """The usual path: a model built by the registries (not on the meta device), strict load."""
    with torch.device("meta"):
        reference = ReferenceResNet("drop", False, K)
    reference = _random(reference, seed=3, dtype=torch.float32)
    loaded = _saved("bridging-gap", "resnet50", {"model": reference}, wrap=False)
    converted = convert(
        read_source(loaded, detect(loaded)[0]),
        backbone="resnet50",
        method="bridging-gap",  # the alias of aligned-eil
        large_feature_map=False,
    )
    model = methods.create(converted.method).build(
        backbones.create("resnet50", num_classes=converted.num_classes, weights="none")
    )
    model.load_state_dict(converted.state_dict, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, converted.state_dict[key]), key
