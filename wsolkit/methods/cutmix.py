"""CutMix (Yun et al., ICCV 2019): paste a box from another image, mix the labels by area."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from wsolkit.functional.augment import cutmix
from wsolkit.methods.base import MethodParams, Targets, WsolMethod


class CutMixParams(MethodParams):
    """CutMix hyperparameters (defaults: wsolevaluation)."""

    beta: float = Field(
        1.0, ge=0.0, le=1000.0, description="β of the Beta(β, β) mixing ratio; 0 disables CutMix."
    )
    prob: float = Field(
        1.0, ge=0.0, le=1.0, description="Probability that a batch is mixed (once per batch)."
    )


class CutMix(WsolMethod):
    """CutMix: with probability ``prob`` per batch, paste boxes; λ-weighted cross-entropy."""

    name = "cutmix"
    description = "CutMix (ICCV 2019): paste a box from a shuffled batch; area-weighted CE."
    Params = CutMixParams
    params: CutMixParams

    def prepare_batch(
        self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Targets]:
        """Mix the batch when a uniform draw ``u < prob`` (and β > 0), else leave it as is."""
        p = self.params
        device = torch.device("cpu") if generator is None else generator.device
        draw = float(torch.rand((), generator=generator, device=device))
        if p.beta <= 0 or draw >= p.prob:
            return images, Targets(labels)
        mixed, labels_a, labels_b, lam = cutmix(images, labels, p.beta, generator)
        return mixed, Targets(labels_a, labels_b, lam)
