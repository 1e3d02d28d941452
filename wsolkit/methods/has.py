"""Hide-and-Seek (Singh & Lee, ICCV 2017): hide random grid cells of the training images."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from wsolkit.functional.augment import hide_and_seek
from wsolkit.methods.base import MethodParams, Targets, WsolMethod


class HaSParams(MethodParams):
    """Hide-and-Seek hyperparameters (defaults: wsolevaluation)."""

    grid_size: int = Field(
        4, ge=0, le=4096, description="Cell side in pixels of the hiding grid; 0 disables hiding."
    )
    drop_rate: float = Field(
        0.5, ge=0.0, le=1.0, description="Probability that a cell is hidden (set to 0)."
    )


class HaS(WsolMethod):
    """Hide-and-Seek: zero random grid cells of the normalized input; cross-entropy."""

    name = "has"
    description = "Hide-and-Seek (ICCV 2017): hide random grid cells of the input; cross-entropy."
    Params = HaSParams
    params: HaSParams

    def prepare_batch(
        self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Targets]:
        """Hide cells of each image independently (cells with a draw ``u ≤ drop_rate``)."""
        p = self.params
        return hide_and_seek(images, p.grid_size, p.drop_rate, generator), Targets(labels)
