"""The hirescam extractor plugin: conformance, its formula, its relation to Grad-CAM, and
pytorch-grad-cam 1.5.7's HiResCAM (a wsolkit dev dependency) on MobileNetV3 in float64."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip(
    "wsolkit_torchvision_extra",
    reason="install the plugin: pip install -e plugins/wsolkit-torchvision-extra",
)

from pytorch_grad_cam import HiResCAM as ReferenceHiResCAM  # noqa: E402
from pytorch_grad_cam import base_cam  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from wsolkit.functional import class_activation_map  # noqa: E402
from wsolkit.methods.cam import CAM  # noqa: E402
from wsolkit.registry import backbones, extractors  # noqa: E402
from wsolkit.testing import check_extractor  # noqa: E402

from wsolkit_torchvision_extra.functional import hires_cam  # noqa: E402
from wsolkit_torchvision_extra.hirescam import HiResCAM  # noqa: E402


def test_registered_and_conforming() -> None:
    assert extractors.load("hirescam") is HiResCAM
    assert extractors.package_of("hirescam") == "wsolkit-torchvision-extra"
    report = check_extractor("hirescam")
    assert report.map_sizes == {None: (16, 16), "conv4": (16, 16)}  # tiny at 64 px
    report = check_extractor("hirescam", backbone="mobilenet_v3_large")
    assert report.map_sizes[None] == (4, 4)  # stride 16 at 64 px


def test_the_formula_by_hand() -> None:
    a = torch.tensor([[[[1.0, 2.0]], [[3.0, -1.0]]]])  # 1×2 channels×1×2
    g = torch.tensor([[[[0.5, -1.0]], [[2.0, 1.0]]]])
    # position 0: 0.5·1 + 2·3 = 6.5; position 1: -1·2 + 1·(-1) = -3 → ReLU → 0
    assert torch.equal(hires_cam(a, g), torch.tensor([[[6.5, 0.0]]]))
    with pytest.raises(ValueError, match="…×C×H×W"):
        hires_cam(a[0, 0], g[0, 0])


def test_at_the_final_map_of_a_linear_head_it_is_grad_cam_and_relu_of_cam() -> None:
    torch.manual_seed(0)
    method = CAM()
    model = method.build(backbones.create("tiny", num_classes=4)).double().eval()
    images = torch.randn(3, 3, 64, 64, dtype=torch.float64)
    labels = torch.tensor([0, 2, 3])
    ours = HiResCAM().extract(method, model, images, labels).cams[:, 0]
    grad = extractors.create("grad-cam").extract(method, model, images, labels).cams[:, 0]
    torch.testing.assert_close(ours, grad, rtol=1e-12, atol=1e-15)
    features = model.backbone.forward_features(images)
    # the channel mean of w_y · F
    cam = class_activation_map(features, model.backbone.head.class_weights, labels)
    h, w = features.shape[-2:]
    expected = torch.relu(cam) * features.shape[1] / (h * w)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-15)


def test_equals_pytorch_grad_cam_s_hirescam_at_an_inner_stage(monkeypatch) -> None:
    torch.manual_seed(0)
    method = CAM()
    model = method.build(backbones.create("mobilenet_v3_large", num_classes=5)).double().eval()
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    classes = torch.tensor([1, 4])
    ours = HiResCAM().extract(method, model, images, classes, stage="features.12").cams[:, 0]
    captured = []
    scale = base_cam.scale_cam_image

    def capture(cam, target_size=None):
        if target_size is not None:  # the per-layer call, with the raw map
            captured.append(cam.copy())
        return scale(cam, target_size)

    monkeypatch.setattr(base_cam, "scale_cam_image", capture)
    layer = model.backbone.stage("features.12")
    with ReferenceHiResCAM(model=model.backbone, target_layers=[layer]) as reference:
        reference(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in classes])
    theirs = torch.from_numpy(captured[0])
    assert ours.shape == theirs.shape == (2, 4, 4)
    assert theirs.max() > 0
    difference = float((ours - theirs).abs().max() / theirs.abs().max())
    assert difference < 1e-12, f"relative difference {difference:.2e}"
