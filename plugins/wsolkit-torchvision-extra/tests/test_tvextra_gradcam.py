"""The grad-cam method plugin: conformance, the Grad-CAM formula, its relation to CAM."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip(
    "wsolkit_torchvision_extra",
    reason="install the plugin: pip install -e plugins/wsolkit-torchvision-extra",
)

from wsolkit.functional import class_activation_map  # noqa: E402
from wsolkit.methods import IncompatibleBackboneError  # noqa: E402
from wsolkit.registry import backbones, methods  # noqa: E402
from wsolkit.testing import BareBackbone, check_method  # noqa: E402

from wsolkit_torchvision_extra.functional import grad_cam  # noqa: E402
from wsolkit_torchvision_extra.gradcam import GradCAM  # noqa: E402


def _model(backbone: str = "tiny", num_classes: int = 4, **params: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    method = methods.create("grad-cam", **params)
    model = method.build(backbones.create(backbone, num_classes=num_classes)).eval()
    return method, model


@pytest.mark.parametrize(
    ("backbone", "params", "size"),
    [
        ("tiny", None, (16, 16)),
        ("tiny", {"stage": "conv3", "relu": False}, (16, 16)),
        ("mobilenet_v3_large", {"stage": "features.12"}, (4, 4)),
        (BareBackbone, None, (32, 32)),  # a class-map head: CAM's formula does not apply
    ],
)
def test_conformance(backbone: object, params: dict | None, size: tuple[int, int]) -> None:
    report = check_method("grad-cam", backbone=backbone, params=params)  # type: ignore[arg-type]
    assert report.cam_size == size
    assert set(report.losses) == {"total", "ce"}  # trains like CAM


def test_registered_with_its_hyperparameters() -> None:
    assert methods.load("grad-cam") is GradCAM
    rows = {r["name"]: r for r in GradCAM.hyperparameters()}
    assert rows["stage"]["default"] is None and rows["relu"]["default"] is True


def test_final_stage_of_a_linear_head_is_relu_of_cam() -> None:
    """∂y_c/∂F = w_c / (H·W), so Grad-CAM = ReLU(C/(H·W) · CAM) (signed without the ReLU)."""
    images, classes = torch.randn(3, 3, 64, 64), torch.tensor([0, 3, 1])
    for relu in (True, False):
        method, model = _model(relu=relu)
        with torch.inference_mode():
            result = method.cams(model, images, classes)
            features = model.backbone.forward_features(images)
            cam = class_activation_map(features, model.backbone.head.class_weights, classes)
        c, h, w = features.shape[1:]
        expected = c / (h * w) * cam
        expected = expected.clamp_min(0) if relu else expected
        torch.testing.assert_close(result.cams[:, 0], expected, rtol=1e-5, atol=1e-7)
        assert (result.cams >= 0).all() if relu else (result.cams < 0).any()


def test_inner_stage_matches_hooks_on_the_full_forward() -> None:
    """An independent Grad-CAM: a forward hook keeps the stage output, backward from the logits."""
    method, model = _model(stage="conv2")
    images, classes = torch.randn(2, 3, 64, 64), torch.tensor([2, 1])
    kept = {}
    handle = model.backbone.conv2.register_forward_hook(lambda m, i, o: kept.update(a=o))
    logits = model.backbone(images)
    handle.remove()
    activations = kept["a"]
    (gradients,) = torch.autograd.grad(logits.gather(1, classes[:, None]).sum(), activations)
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    expected = (alpha * activations).sum(1).clamp_min(0).detach()
    with torch.no_grad():  # the evaluator's context: cams re-enables autograd locally
        result = method.cams(model, images, classes)
    assert result.cams.shape == (2, 1, 16, 16)  # conv2 ends with a max-pool: stride 4
    torch.testing.assert_close(result.cams[:, 0], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(result.logits, logits.detach())
    assert all(p.grad is None for p in model.parameters())  # no parameter .grad touched


def test_top_k_maps_differ_per_class() -> None:
    method, model = _model()
    with torch.inference_mode():
        result = method.cams(model, torch.randn(2, 3, 64, 64), topk=3)
    assert result.cams.shape == (2, 3, 16, 16)
    assert torch.equal(result.classes, result.logits.topk(3, dim=1).indices)
    assert not torch.allclose(result.cams[:, 0], result.cams[:, 1])


def test_class_map_head_final_stage() -> None:
    """For a 1×1-conv class-map head, Grad-CAM at F is ReLU(class map − bias) / (H·W)."""
    torch.manual_seed(0)
    net = BareBackbone(num_classes=3).eval()
    method = methods.create("grad-cam")
    model = method.build(net)
    images, classes = torch.randn(2, 3, 64, 64), torch.tensor([1, 2])
    with torch.inference_mode():
        result = method.cams(model, images, classes)
        features = net.forward_features(images)
        maps = net.head.class_maps(features, classes[:, None])[:, 0]
        bias = net.head.conv.bias[classes][:, None, None]
    h, w = features.shape[-2:]
    torch.testing.assert_close(result.cams[:, 0], ((maps - bias) / (h * w)).clamp_min(0))


def test_unknown_stage_is_refused_with_the_list() -> None:
    with pytest.raises(
        IncompatibleBackboneError, match="no such stage: set method.stage to one of conv1, conv2"
    ):
        methods.create("grad-cam", stage="conv9").build(backbones.create("tiny", num_classes=2))


def test_grad_cam_function() -> None:
    a = torch.tensor([[[[1.0, -2.0]], [[3.0, 4.0]]]])  # 1×2×1×2
    g = torch.tensor([[[[1.0, 3.0]], [[-1.0, -1.0]]]])  # α = (2, -1)
    torch.testing.assert_close(grad_cam(a, g, relu=False), torch.tensor([[[-1.0, -8.0]]]))
    torch.testing.assert_close(grad_cam(a, g), torch.tensor([[[0.0, 0.0]]]))
    assert grad_cam(a.double(), g.double()).dtype == torch.float64
    assert grad_cam(a.half(), g.half()).dtype == torch.float32
    with pytest.raises(ValueError, match="B×C×H×W of one shape"):
        grad_cam(a, g[..., :1])
