"""Eigen-CAM: the first principal component of a stage's activations, without gradients."""

from __future__ import annotations

from torch import Tensor, nn

from wsolkit.extractors.base import (
    ScoreMapExtractor,
    class_index,
    full_precision,
    inference_backbone,
    map_dtype,
    stage_forward,
)
from wsolkit.functional.posthoc import eigen_cam
from wsolkit.methods.base import WsolMethod
from wsolkit.methods.model import CamResult


class EigenCAM(ScoreMapExtractor):
    """Eigen-CAM: ``ReLU`` of the positions projected on the activations' first component.

    Class-agnostic: every requested class gets the same map. The SVD's sign is fixed
    by :func:`wsolkit.functional.principal_projection`'s rule (positive correlation
    with the channel sum), so the map does not depend on the SVD backend.
    """

    name = "eigen-cam"
    description = (
        "Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): first principal component of the "
        "activations; class-agnostic, no gradients."
    )
    needs_gradients = False

    def extract(
        self,
        method: WsolMethod,
        model: nn.Module,
        images: Tensor,
        classes: Tensor,
        *,
        stage: str | None = None,
    ) -> CamResult:
        """Logits and the Eigen-CAM map, repeated for each of ``classes`` (B or B×k)."""
        backbone = inference_backbone(model)
        resolved = self.target_stage(backbone, stage)
        index = class_index(classes, images.shape[0], images.device)
        activations, logits = stage_forward(backbone, images, resolved)
        with full_precision(activations.device):
            maps = eigen_cam(activations.to(map_dtype(activations)))
        maps = maps[:, None].expand(-1, index.shape[1], -1, -1).clone()
        return CamResult(logits.detach(), maps, index)
