"""Each extractor end to end, against gradients derived by hand for linear heads (float64).

At the final feature map A (B×C×h×w) of a GAP + linear head, ``logit_y = b_y + Σ_c w_yc ·
mean_hw A_c``, so ``∂logit_y/∂A_c,p = w_yc / hw`` at every position: the maps follow from
``w`` and ``A`` without autograd. At the inner stage ``a`` of :class:`Pointwise` (no ReLU
after it) the gradient is ``Σ_j w_yj W2_jc / hw``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from extractor_nets import images, pointwise_model
from torch import Tensor

from wsolkit.functional import eigen_cam, upsample_minmax
from wsolkit.methods import WsolModel
from wsolkit.methods.cam import CAM
from wsolkit.registry import backbones, extractors

CLASSES = torch.tensor([[0, 2], [1, 0]])


@pytest.fixture(scope="module")
def tiny() -> WsolModel:
    torch.manual_seed(0)
    return CAM().build(backbones.create("tiny", num_classes=3)).double().eval()


@pytest.fixture(scope="module")
def x() -> Tensor:
    return images(size=32)


def final_parts(model: WsolModel, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A (B×C×h×w), the analytic gradients B×k×C×h×w of CLASSES, and the logits."""
    bb = model.backbone
    with torch.no_grad():
        acts = bb.forward_features(x)
        logits = bb.head(acts)
    weights = bb.head.fc.weight[CLASSES]  # B×k×C
    hw = acts.shape[-2] * acts.shape[-1]
    grads = (weights / hw)[..., None, None].expand(-1, -1, -1, *acts.shape[-2:])
    return acts, grads, logits


def extract(name: str, model: WsolModel, x: Tensor, stage: str | None = None, **params):
    with torch.inference_mode():
        return extractors.create(name, **params).extract(CAM(), model, x, CLASSES, stage=stage)


def test_grad_cam_at_the_final_map_is_relu_cam_times_c_over_hw(tiny, x) -> None:
    acts, _, logits = final_parts(tiny, x)
    result = extract("grad-cam", tiny, x)
    channels, hw = acts.shape[1], acts.shape[-2] * acts.shape[-1]
    w = tiny.backbone.head.fc.weight[CLASSES][..., None, None]  # B×k×C×1×1
    torch.testing.assert_close(result.cams, (w * acts[:, None]).sum(2).clamp(min=0) / hw)
    with torch.no_grad():
        cams = CAM().cams(tiny, x, CLASSES).cams  # (1/C) Σ_c w_yc A_c, in float32
    torch.testing.assert_close(result.cams.float(), cams.clamp(min=0) * channels / hw)
    torch.testing.assert_close(result.logits, logits)
    assert torch.equal(result.classes, CLASSES)


def test_layer_cam_and_xgrad_cam_at_the_final_map(tiny, x) -> None:
    acts, _, _ = final_parts(tiny, x)
    hw = acts.shape[-2] * acts.shape[-1]
    w = tiny.backbone.head.fc.weight[CLASSES][..., None, None]  # B×k×C×1×1
    a = acts[:, None]
    layer = (w.clamp(min=0) / hw * a).sum(2).clamp(min=0)
    torch.testing.assert_close(extract("layer-cam", tiny, x).cams, layer)
    # XGrad-CAM: Σ_p (w/hw)·A / (Σ_p A + 1e-7) = (w/hw)·S/(S + 1e-7), S = Σ_p A_c.
    s = a.sum((-2, -1), keepdim=True)
    xgrad = ((w / hw) * s / (s + 1e-7) * a).sum(2).clamp(min=0)
    torch.testing.assert_close(extract("xgrad-cam", tiny, x).cams, xgrad)


def test_grad_cam_plus_plus_at_the_final_map(tiny, x) -> None:
    acts, _, _ = final_parts(tiny, x)
    hw = acts.shape[-2] * acts.shape[-1]
    g = tiny.backbone.head.fc.weight[CLASSES] / hw  # B×k×C, the same at every position
    s = acts.sum((-2, -1))[:, None]  # B×1×C
    alpha = torch.where(g != 0, g**2 / (2 * g**2 + s * g**3 + 1e-6), 0)
    weights = hw * g.clamp(min=0) * alpha
    expected = (weights[..., None, None] * acts[:, None]).sum(2).clamp(min=0)
    torch.testing.assert_close(extract("grad-cam++", tiny, x).cams, expected)


def test_bagcams_at_the_final_map_uses_the_gradient_of_log_score(tiny, x) -> None:
    acts, grads, logits = final_parts(tiny, x)
    picked = logits.gather(1, CLASSES)[..., None, None, None]  # B×k×1×1×1
    g = grads / picked  # ∂ log(logit_y) / ∂A; no ReLU after the final map
    local = g * acts[:, None]
    expected = ((local + 1).mean((-2, -1), keepdim=True) * local).clamp(min=0).sum(2)
    torch.testing.assert_close(extract("bagcams", tiny, x).cams, expected)


def test_published_pipeline_returns_bagcams_input_size_maps(tiny, x) -> None:
    raw = extract("bagcams", tiny, x).cams
    published = extract("bagcams", tiny, x, published_pipeline=True).cams
    assert published.shape == (2, 2, 32, 32)
    torch.testing.assert_close(published, upsample_minmax(raw, (32, 32)))
    bagcams = extractors.create("bagcams", published_pipeline=True)
    assert bagcams.map_shape(CAM(), tiny, 48, "conv3") == (48, 48)


@pytest.mark.parametrize("name", ["grad-cam", "grad-cam++", "xgrad-cam", "layer-cam"])
def test_inner_stage_gradients_are_the_matrix_products(name: str) -> None:
    model = pointwise_model()
    x = images(size=8)
    bb = model.backbone
    with torch.no_grad():
        acts = bb.forward_stages(x, through="a")  # B×4×4×4
    hw = acts.shape[-2] * acts.shape[-1]
    w2 = bb.b[0].weight[:, :, 0, 0]  # 3×4
    g = bb.head.fc.weight[CLASSES] @ w2 / hw  # B×k×4
    grads = g[..., None, None].expand(-1, -1, -1, *acts.shape[-2:])
    formula = type(extractors.create(name)).formula
    expected = formula(acts[:, None], grads)
    torch.testing.assert_close(extract(name, model, x, stage="a").cams, expected)


def test_score_cam_against_one_forward_per_channel() -> None:
    model, x = pointwise_model(), images(size=8)
    bb = model.backbone
    expected = torch.zeros(2, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        acts = bb.forward_stages(x, through="a")  # B×4×4×4
        for b in range(2):
            scores = []
            for c in range(acts.shape[1]):
                up = F.interpolate(
                    acts[b : b + 1, c : c + 1], size=(8, 8), mode="bilinear", align_corners=True
                )
                mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
                scores.append(bb(x[b : b + 1] * mask)[0])
            logits = torch.stack(scores)  # C×K
            for j in range(2):
                weights = torch.softmax(logits[:, CLASSES[b, j]], dim=0)
                expected[b, j] = (weights[:, None, None] * acts[b]).sum(0).clamp(min=0)
    seen = []
    with torch.inference_mode():
        result = extractors.create("score-cam", chunk_size=3).extract(
            CAM(), model, x, CLASSES, stage="a", progress=lambda *a: seen.append(a)
        )
    torch.testing.assert_close(result.cams, expected)
    assert seen == [
        (3, 8, "Score-CAM forward passes"),
        (6, 8, "Score-CAM forward passes"),
        (8, 8, "Score-CAM forward passes"),
    ]


def test_eigen_cam_is_the_same_map_for_every_class(tiny, x) -> None:
    with torch.no_grad():
        acts = tiny.backbone.forward_stages(x, through="conv3")
    result = extract("eigen-cam", tiny, x, stage="conv3")
    expected = eigen_cam(acts)[:, None].expand(-1, 2, -1, -1)
    torch.testing.assert_close(result.cams, expected)


def test_cam_extractor_is_the_methods_cams(tiny, x) -> None:
    with torch.no_grad():
        expected = CAM().cams(tiny, x, CLASSES)
    result = extract("cam", tiny, x)
    torch.testing.assert_close(result.cams, expected.cams, rtol=0, atol=0)
    torch.testing.assert_close(result.logits, expected.logits)


@pytest.mark.parametrize("name", ["grad-cam", "bagcams", "xgrad-cam"])
def test_maps_stay_float32_under_bfloat16_autocast(name: str) -> None:
    torch.manual_seed(0)
    model = CAM().build(backbones.create("tiny", num_classes=3)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        result = extractors.create(name).extract(CAM(), model, x, CLASSES, stage="conv4")
    assert result.cams.dtype == torch.float32
    assert torch.isfinite(result.cams).all()


def test_float64_models_get_float64_maps(tiny, x) -> None:
    with torch.inference_mode():
        result = extractors.create("grad-cam").extract(CAM(), tiny, x, CLASSES[:, 0])
    assert result.cams.dtype == torch.float64 and result.cams.shape == (2, 1, 8, 8)
