"""The method's own CAM as an extractor: what the export engine reads by default."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.extractors.base import (
    ScoreMapExtractor,
    StageError,
    class_index,
    inference_backbone,
    map_dtype,
    probe_image,
)
from wsolkit.methods.base import WsolMethod
from wsolkit.methods.model import CamResult


class CAMExtractor(ScoreMapExtractor):
    """``method.cams(model, images, classes)``: the method's CAM of the final feature map."""

    name = "cam"
    description = (
        "The method's own CAM (method.cams) at the final feature map; one forward pass, "
        "no gradients (the default)."
    )
    needs_gradients = False

    def resolve_stage(self, backbone: Backbone, stage: str | None) -> str | None:
        """``None`` or the final stage (or its group); any other stage is a :class:`StageError`."""
        resolved = super().resolve_stage(backbone, stage)
        final = backbone.stage_names[-1]
        if resolved not in (None, final):
            raise StageError(
                f"extractor 'cam' reads the method's CAM of the final feature map "
                f"('{final}' of backbone '{backbone.display_name()}'), not stage '{stage}': "
                "--stage is for the gradient-based extractors such as grad-cam "
                "(`wsolkit list extractors`); leave it unset for cam."
            )
        return resolved

    def map_shape(
        self, method: WsolMethod, model: nn.Module, size: int, stage: str | None
    ) -> tuple[int, int]:
        """``(h, w)`` of ``method.cams`` for a size×size input (one probe forward)."""
        self.resolve_stage(inference_backbone(model), stage)
        probe = probe_image(model, size)
        with torch.no_grad():
            cams = method.cams(model, probe, torch.zeros(1, 1, dtype=torch.long)).cams
        return int(cams.shape[-2]), int(cams.shape[-1])

    def extract(
        self,
        method: WsolMethod,
        model: nn.Module,
        images: Tensor,
        classes: Tensor,
        *,
        stage: str | None = None,
    ) -> CamResult:
        """Logits and the method's raw CAMs of ``classes`` (B or B×k), one forward pass."""
        self.resolve_stage(inference_backbone(model), stage)
        index = class_index(classes, images.shape[0], images.device)
        with torch.no_grad():
            result = method.cams(model, images, index)
        cams = result.cams.detach()
        return CamResult(result.logits.detach(), cams.to(map_dtype(cams)), result.classes)
