"""The extractors against pytorch-grad-cam 1.5.7 (a dev dependency), in float64.

The network is wsolkit's ``resnet50``: torchvision's ResNet50 modules with random
weights (``resnet50(weights=None)``), layer4 at stride 1 and a new GAP + linear head;
the input is two 96 px images (6×6 maps at layer3 and layer4). pytorch-grad-cam gets
the backbone itself (``forward`` = logits) and the target layer's module: the last
block ``layer4[-1]`` for wsolkit's group ``layer4`` (wsolkit runs ResNet50 block by
block, so the ``layer4`` Sequential's own hooks never fire). Its raw map is the one
``BaseCAM.compute_cam_per_layer`` passes to ``scale_cam_image`` (after
``np.maximum(cam, 0)``, before its min-max scaling and resize), captured here.
Score-CAM costs one forward pass per channel, so it is compared on ``tiny`` (64
channels at 32 px). Tolerances are relative to the reference map's largest value; the
assertion message prints the measured difference (2026-12: ~2e-15 for the gradient
extractors, 4e-8 for eigen-cam, 7e-8 for score-cam):

- grad-cam, grad-cam++, xgrad-cam, layer-cam: 1e-12 (float64 on both sides; the sums
  run in another order);
- eigen-cam: 1e-6, because pytorch-grad-cam's ``get_2d_projection`` returns
  ``np.float32(projections)``;
- score-cam: 1e-6, because pytorch-grad-cam rounds the scores to float32
  (``torch.Tensor(scores)``) and takes their softmax in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
    base_cam,
)
from pytorch_grad_cam import eigen_cam as eigen_cam_module
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection
from torch import Tensor, nn

from wsolkit.methods import WsolModel
from wsolkit.methods.cam import CAM
from wsolkit.registry import backbones, extractors

CLASSES = torch.tensor([1, 3])  # classes whose Grad-CAM is not all zero on this random net
EXACT = 1e-12


@pytest.fixture(scope="module")
def resnet() -> tuple[WsolModel, Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CAM().build(backbones.create("resnet50", num_classes=7)).double().eval()
        x = torch.randn(2, 3, 96, 96, dtype=torch.float64)
    return model, x


def reference_map(
    cam_class: type, model: nn.Module, layer: nn.Module, x: Tensor, monkeypatch
) -> np.ndarray:
    """pytorch-grad-cam's raw map (B×h×w) for the classes in CLASSES."""
    captured: list[np.ndarray] = []
    scale = base_cam.scale_cam_image

    def capture(cam: np.ndarray, target_size=None) -> np.ndarray:
        if target_size is not None:  # the per-layer call, with the raw map
            captured.append(cam.copy())
        return scale(cam, target_size)

    with monkeypatch.context() as patch:
        patch.setattr(base_cam, "scale_cam_image", capture)
        with cam_class(model=model, target_layers=[layer]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in CLASSES])
    model.zero_grad(set_to_none=True)
    assert len(captured) == 1
    return captured[0]


def ours(name: str, model: WsolModel, x: Tensor, stage: str) -> np.ndarray:
    with torch.inference_mode():
        result = extractors.create(name).extract(CAM(), model, x, CLASSES, stage=stage)
    assert result.cams.shape[:2] == (2, 1)
    return result.cams[:, 0].numpy()


def assert_matches(got: np.ndarray, expected: np.ndarray, relative: float) -> None:
    scale = float(np.abs(expected).max())
    assert scale > 0, "the reference map is all zeros: the comparison would prove nothing"
    diff = float(np.abs(got - expected).max())
    assert got.shape == expected.shape, f"shapes {got.shape} != {expected.shape}"
    assert diff <= relative * scale, (
        f"max |diff| = {diff:.3e} ({diff / scale:.3e} of the map's max {scale:.3e}), "
        f"tolerance {relative:.0e}"
    )


@pytest.mark.parametrize(
    ("name", "cam_class", "stage", "layer"),
    [
        ("grad-cam", GradCAM, "layer4", "layer4.2"),
        ("grad-cam", GradCAM, "layer3", "layer3.5"),
        ("grad-cam++", GradCAMPlusPlus, "layer4", "layer4.2"),
        ("xgrad-cam", XGradCAM, "layer4", "layer4.2"),
        ("layer-cam", LayerCAM, "layer4.1", "layer4.1"),
    ],
)
def test_gradient_extractors_match(resnet, monkeypatch, name, cam_class, stage, layer) -> None:
    model, x = resnet
    expected = reference_map(
        cam_class, model.backbone, model.backbone.get_submodule(layer), x, monkeypatch
    )
    assert_matches(ours(name, model, x, stage), expected, EXACT)


def test_eigen_cam_matches_with_the_sign_that_agrees(resnet, monkeypatch) -> None:
    model, x = resnet
    projections: list[np.ndarray] = []  # signed, float32, with the SVD backend's sign

    def recording(activations: np.ndarray) -> np.ndarray:
        projections.append(get_2d_projection(activations))
        return projections[-1]

    monkeypatch.setattr(eigen_cam_module, "get_2d_projection", recording)
    expected = reference_map(EigenCAM, model.backbone, model.backbone.layer4[-1], x, monkeypatch)
    np.testing.assert_array_equal(np.maximum(projections[0], 0), expected)
    got = ours("eigen-cam", model, x, "layer4")
    for b in range(2):  # per image, the sign of the reference that agrees with ours
        flipped = np.maximum(-projections[0][b], 0)
        same = np.abs(got[b] - expected[b]).max() <= np.abs(got[b] - flipped).max()
        assert_matches(got[b], expected[b] if same else flipped, 1e-6)


def test_score_cam_matches(monkeypatch) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CAM().build(backbones.create("tiny", num_classes=7)).double().eval()
        x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    expected = reference_map(ScoreCAM, model.backbone, model.backbone.conv4, x, monkeypatch)
    assert_matches(ours("score-cam", model, x, "conv4"), expected, 1e-6)
