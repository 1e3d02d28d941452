"""Score-CAM: channels weighted by the class score of the input masked by each of them."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.extractors.base import (
    ExtractorParams,
    ScoreMapExtractor,
    class_index,
    full_precision,
    inference_backbone,
    map_dtype,
    stage_forward,
)
from wsolkit.functional.posthoc import score_cam, score_cam_masks
from wsolkit.methods.base import WsolMethod
from wsolkit.methods.model import CamResult
from wsolkit.progress import Progress


class ScoreCAMParams(ExtractorParams):
    """Score-CAM hyperparameters (speed and memory only; the maps do not change)."""

    chunk_size: int = Field(
        32,
        ge=1,
        description="Masked images per forward pass (Score-CAM runs one forward pass per "
        "image and channel); larger is faster and needs more memory.",
    )


class ScoreCAM(ScoreMapExtractor):
    """Score-CAM: ``ReLU(Σ_c softmax_c(s)·A_c)``, ``s_c`` the class score of the image × mask c.

    Costs one forward pass of the whole network per image and channel of the stage
    (2048 per image at ResNet50's final feature map), in chunks of ``chunk_size``.
    The scores are computed in the model's dtype (pytorch-grad-cam rounds them to
    float32 before its softmax).
    """

    name = "score-cam"
    description = (
        "Score-CAM (Wang et al., CVPRW 2020): softmax of masked-input scores; slow: one "
        "forward pass per image and channel (2048 per image on ResNet50)."
    )
    needs_gradients = False
    Params = ScoreCAMParams
    params: ScoreCAMParams

    def scores(
        self,
        backbone: Backbone,
        images: Tensor,
        activations: Tensor,
        index: Tensor,
        progress: Progress | None = None,
    ) -> Tensor:
        """B×k×C: the logits of ``index`` (B×k) for each image masked by each channel's mask."""
        batch, channels = activations.shape[:2]
        flat = activations.reshape(batch * channels, 1, *activations.shape[-2:])
        chunk = self.params.chunk_size
        out = []
        with torch.no_grad():
            for start in range(0, batch * channels, chunk):
                stop = min(start + chunk, batch * channels)
                owner = torch.arange(start, stop, device=images.device) // channels
                masks = score_cam_masks(flat[start:stop], tuple(images.shape[-2:]))
                logits = backbone.head(backbone.forward_stages(images[owner] * masks))
                out.append(logits.gather(1, index[owner]))
                if progress is not None:
                    progress(stop, batch * channels, "Score-CAM forward passes")
        return torch.cat(out).view(batch, channels, -1).transpose(1, 2)

    def extract(
        self,
        method: WsolMethod,
        model: nn.Module,
        images: Tensor,
        classes: Tensor,
        *,
        stage: str | None = None,
        progress: Progress | None = None,
    ) -> CamResult:
        """Logits and Score-CAM maps of ``classes`` (B or B×k); ``progress`` counts forwards."""
        backbone = inference_backbone(model)
        resolved = self.target_stage(backbone, stage)
        index = class_index(classes, images.shape[0], images.device)
        activations, logits = stage_forward(backbone, images, resolved)
        scores = self.scores(backbone, images, activations, index, progress)
        dtype = map_dtype(activations)
        with full_precision(activations.device):
            maps = score_cam(activations.to(dtype)[:, None], scores.to(dtype))
        return CamResult(logits.detach(), maps, index)
