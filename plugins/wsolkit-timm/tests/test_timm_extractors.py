"""wsolkit's extractors on a transformer: stage tokens read as maps through ``stage_map``."""

from __future__ import annotations

import pytest
import torch
from wsolkit.extractors import StageError
from wsolkit.functional.posthoc import eigen_cam
from wsolkit.registry import extractors, methods
from wsolkit.testing import builtin_extractors, check_extractor
from wsolkit.testing.support import seeded

from wsolkit_timm.deit import DeiTSmall


@pytest.mark.parametrize("name", builtin_extractors())
def test_every_builtin_extractor_conforms(name: str, tiny_deit: type[DeiTSmall]) -> None:
    """wsolkit.testing.check_extractor on ts-cam models: the final map and blocks.11."""
    report = check_extractor(name, backbone=tiny_deit, method="ts-cam")
    inner = None if name == "cam" else "blocks.11"  # cam reads the method's map only
    assert report.inner_stage == inner
    assert set(report.map_sizes.values()) == {(4, 4)}  # the 4×4 patch grid at 64 px


def _halves(stage: str, tiny_deit: type[DeiTSmall]) -> tuple:
    """A float64 ts-cam model, its images, and the tokens of ``stage`` as a leaf."""
    with seeded(0):
        model = methods.create("ts-cam").build(tiny_deit(num_classes=4)).double().eval()
        images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    net = model.backbone
    tokens = net.forward_stages(images, through=stage).detach().requires_grad_(True)
    logits = net.head(net.forward_stages(tokens, after=stage))
    return model, images, tokens, logits


def _as_map(tokens: torch.Tensor) -> torch.Tensor:
    """B×17×C patch tokens (class token first) → B×C×4×4, written out."""
    return tokens[:, 1:].reshape(tokens.shape[0], 4, 4, -1).permute(0, 3, 1, 2)


@pytest.mark.parametrize("stage", ["blocks.11", "blocks.5", "patch_embed"])
def test_gradient_maps_read_the_patch_tokens(stage: str, tiny_deit: type[DeiTSmall]) -> None:
    """Grad-CAM and LayerCAM of a block: A and ∂y/∂A are the patch tokens' maps."""
    model, images, tokens, logits = _halves(stage, tiny_deit)
    classes = torch.tensor([3, 1])
    (grad,) = torch.autograd.grad(logits[torch.arange(2), classes].sum(), tokens)
    activations, gradients = _as_map(tokens.detach()), _as_map(grad)
    expected_grad_cam = (gradients.mean(dim=(2, 3), keepdim=True) * activations).sum(1).relu()
    expected_layer_cam = (gradients.relu() * activations).sum(1).relu()
    method = methods.create("ts-cam")
    with torch.inference_mode():
        grad_cam = extractors.create("grad-cam").extract(
            method, model, images, classes, stage=stage
        )
        layer_cam = extractors.create("layer-cam").extract(
            method, model, images, classes, stage=stage
        )
    torch.testing.assert_close(grad_cam.cams[:, 0], expected_grad_cam)
    torch.testing.assert_close(layer_cam.cams[:, 0], expected_layer_cam)
    torch.testing.assert_close(grad_cam.logits, logits.detach())


def test_eigen_cam_of_a_block(tiny_deit: type[DeiTSmall]) -> None:
    model, images, tokens, _ = _halves("blocks.11", tiny_deit)
    with torch.inference_mode():
        result = extractors.create("eigen-cam").extract(
            methods.create("ts-cam"), model, images, torch.tensor([0, 1]), stage="blocks.11"
        )
    torch.testing.assert_close(result.cams[:, 0], eigen_cam(_as_map(tokens.detach())))


def test_stages_and_groups(tiny_deit: type[DeiTSmall]) -> None:
    model = methods.create("cam").build(tiny_deit(num_classes=2)).eval()
    grad_cam = extractors.create("grad-cam")
    assert grad_cam.resolve_stage(model.backbone, "blocks") == "blocks.11"  # a group: its last
    assert grad_cam.map_shape(methods.create("cam"), model, 96, "patch_embed") == (6, 6)
    with pytest.raises(StageError, match=r"Its stages: patch_embed, blocks.0…blocks.11, norm"):
        grad_cam.resolve_stage(model.backbone, "layer4")
