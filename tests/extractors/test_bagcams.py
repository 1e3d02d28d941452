"""BagCAMs: the clipped backward pass by hand, and against the reference's own mechanism.

The reference (zh460045050/BagCAMs, ``libs/cams/bagcams.py``) registers a legacy
``register_backward_hook`` on every module, whose ``nn.ReLU`` hooks return
``relu(grad_in)``, and seeds ``logits.log().backward(gradient=one_hot)``. That
mechanism is re-created here as a test oracle only.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from extractor_nets import images, pointwise_model
from torch import Tensor, nn

from wsolkit.backbones.inception import InceptionV3
from wsolkit.backbones.vgg import VGG16
from wsolkit.extractors.bagcams import ClipReluGradients
from wsolkit.functional import bagcams
from wsolkit.methods import WsolModel
from wsolkit.methods.cam import CAM
from wsolkit.registry import backbones, extractors

CLASSES = torch.tensor([[0, 2], [1, 0]])


def extract(model: WsolModel, x: Tensor, stage: str, classes: Tensor = CLASSES) -> Tensor:
    with torch.inference_mode():
        return extractors.create("bagcams").extract(CAM(), model, x, classes, stage=stage).cams


def test_clipped_backward_written_by_hand() -> None:
    # Stage a (A) → z = ReLU(W2·A + b2) → logits = fc(mean_hw z); seed 1/logit_y.
    model, x = pointwise_model(relu=True), images(size=8)
    bb = model.backbone
    with torch.no_grad():
        acts = bb.forward_stages(x, through="a")
        pre = bb.b[0](acts)  # B×3×h×w, before the ReLU
        logits = bb.head(pre.clamp(min=0))
    hw = acts.shape[-2] * acts.shape[-1]
    w2 = bb.b[0].weight[:, :, 0, 0]  # 3×4
    seed = 1 / logits.gather(1, CLASSES)  # B×k
    dz = (seed[..., None] * bb.head.fc.weight[CLASSES] / hw)[..., None, None]  # B×k×3×1×1
    clipped = dz.clamp(min=0) * (pre[:, None] > 0)  # ReLU's backward after the clamp
    grads = torch.einsum("jc,bkjhw->bkchw", w2, clipped)
    expected = bagcams(acts[:, None], grads)
    torch.testing.assert_close(extract(model, x, "a"), expected)
    unclipped = torch.einsum("jc,bkjhw->bkchw", w2, dz * (pre[:, None] > 0))
    assert not torch.allclose(bagcams(acts[:, None], unclipped), expected)  # clipping matters


def reference_bagcams(
    model: WsolModel, x: Tensor, stage: str, classes: Tensor, *, clip: bool = True
) -> Tensor:
    """Legacy ``nn.ReLU`` backward hooks returning ``relu(grad_in)``; ``log`` seeded one-hot."""
    bb = model.backbone
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)] if clip else []
    maps = []
    for j in range(classes.shape[1]):
        saved: list[Tensor] = []
        with warnings.catch_warnings():
            # register_backward_hook is deprecated, and warns about in-place ReLUs (whose
            # hook still sees the ReLU's own grad_in, as in the reference's ResNet50).
            warnings.simplefilter("ignore")
            handles = [
                m.register_backward_hook(lambda _m, gin, _g: (F.relu(gin[0]),)) for m in relus
            ]
            leaf = x.clone().requires_grad_(
                True
            )  # the graph reaches the input, as in the reference
            acts = bb.forward_stages(leaf, through=stage)
            logits = bb.head(bb.forward_stages(acts, after=stage))
        acts.register_hook(saved.append)  # the gradient at the target layer's output
        try:
            one_hot = torch.zeros_like(logits)
            one_hot[torch.arange(len(x)), classes[:, j]] = 1.0
            logits.log().backward(gradient=one_hot)
        finally:
            for h in handles:
                h.remove()
        (grads,) = saved
        local = grads * acts.detach()
        image = F.adaptive_avg_pool2d(local + 1, 1)
        maps.append(torch.relu(image * local).sum(dim=1))
    model.zero_grad(set_to_none=True)
    return torch.stack(maps, dim=1)


@pytest.mark.parametrize("stage", ["conv2", "conv3"])
def test_matches_the_reference_hooks_on_tiny(stage: str) -> None:
    torch.manual_seed(0)  # tiny's ReLUs are nn.ReLU(inplace=True) modules, as in ResNet50
    model = CAM().build(backbones.create("tiny", num_classes=3)).double().eval()
    x = images(size=16)
    expected = reference_bagcams(model, x, stage, CLASSES)
    got = extract(model, x, stage)
    assert expected.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12 * float(expected.abs().max()))
    assert not torch.allclose(reference_bagcams(model, x, stage, CLASSES, clip=False), expected)


def test_matches_the_reference_hooks_on_pointwise() -> None:
    model, x = pointwise_model(relu=True), images(size=8)
    expected = reference_bagcams(model, x, "a", CLASSES)
    torch.testing.assert_close(extract(model, x, "a"), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.relu(x),
        lambda x: F.relu(x * 1, inplace=True),
        lambda x: torch.relu(x),
        lambda x: torch.relu_(x * 1),
        lambda x: x.relu(),
        lambda x: (x * 1).relu_(),
        lambda x: nn.ReLU(inplace=True)(x * 1),
    ],
)
def test_every_relu_call_clips_negative_gradients(call) -> None:
    x = torch.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    with ClipReluGradients():
        y = call(x)
    (grad,) = torch.autograd.grad(y, x, grad_outputs=torch.tensor([5.0, -4.0, 6.0]))
    assert grad.tolist() == [0.0, 0.0, 6.0]
    (plain,) = torch.autograd.grad(call(x), x, grad_outputs=torch.tensor([5.0, -4.0, 6.0]))
    assert plain.tolist() == [0.0, -4.0, 6.0]


def _stand_in(name: str, table) -> SimpleNamespace:
    return SimpleNamespace(display_name=lambda: name, stage_names=tuple(s.name for s in table))


def test_default_stage_is_what_bagcams_scripts_use() -> None:
    bagcams_extractor = extractors.create("bagcams")
    for large in (False, True):
        resnet = backbones.create("resnet50", num_classes=2, large_feature_map=large)
        assert bagcams_extractor.resolve_stage(resnet, None) == "layer3.5"
    for name, cls in (("vgg16", VGG16), ("inception_v3", InceptionV3)):
        assert bagcams_extractor.default_stage(_stand_in(name, cls.stage_table())) is None
    tiny = backbones.create("tiny", num_classes=2)
    assert bagcams_extractor.resolve_stage(tiny, None) is None
    details = type(bagcams_extractor).plugin_details()
    assert details["default_stage"].startswith("resnet50: layer3")
