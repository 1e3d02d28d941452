"""Small networks whose gradients can be written by hand, for the extractor tests.

``Pointwise`` has two 1×1-convolution stages and a GAP + linear head, so that every
gradient is a short matrix product: with ``z = W2·A + b2`` at each position (stage
``b``, ``relu=True`` adds a ReLU after it) and ``logit_y = b_y + Σ_j w_yj · mean_hw(z_j)``,

    ∂logit_y / ∂A_c,p = Σ_j w_yj · W2_jc · 1[z_jp > 0 or no ReLU] / (h·w).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from wsolkit.backbones import Backbone, LinearHead, StageInfo
from wsolkit.methods import WsolModel
from wsolkit.methods.cam import CAM


class Pointwise(Backbone):
    """Stage ``a``: 3×3 conv/2 3→4 (a real trunk); stage ``b``: 1×1 conv 4→3 (+ ReLU); GAP, fc."""

    name = "pointwise"
    description = "Two stages (3×3 conv/2, 1×1 conv), GAP, linear: gradients by hand."

    def __init__(
        self,
        *,
        num_classes: int,
        large_feature_map: bool = False,
        weights: str | Path = "none",
        relu: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes, self.large_feature_map = num_classes, large_feature_map
        self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.b = nn.Sequential(nn.Conv2d(4, 3, 1), nn.ReLU() if relu else nn.Identity())
        self.finish_init(self.stage_table(), LinearHead(3, num_classes), weights)

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """a (/2), b (/2)."""
        return (StageInfo("a", 4, 2, ("a",)), StageInfo("b", 3, 2, ("b",)))

    def stage(self, name: str) -> nn.Module:
        """``a`` or ``b``."""
        self.stage_info(name)
        return getattr(self, name)

    def is_new_parameter(self, name: str, recipe: str) -> bool:
        """Only the head is new."""
        return name.startswith("head.")


def pointwise_model(*, relu: bool = False, num_classes: int = 3, seed: int = 0) -> WsolModel:
    """A float64 :class:`Pointwise` model in eval mode with random (non-zero) biases."""
    generator = torch.Generator().manual_seed(seed)
    model = CAM().build(Pointwise(num_classes=num_classes, relu=relu)).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return model


def images(batch: int = 2, size: int = 8, seed: int = 1) -> Tensor:
    """float64 B×3×size×size."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=generator, dtype=torch.float64)
