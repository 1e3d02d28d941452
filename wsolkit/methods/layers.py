"""Layers that methods insert into a backbone (thin modules over wsolkit.functional)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wsolkit.functional.adl import attention_based_dropout
from wsolkit.functional.erasing import attentive_drop


class ADLayer(nn.Module):
    """Attention-based Dropout Layer (Choe & Shim, CVPR 2019); the identity in eval mode."""

    def __init__(self, drop_rate: float, gamma: float) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.gamma = gamma
        self.generator: torch.Generator | None = None

    def forward(self, features: Tensor) -> Tensor:
        """Training: :func:`~wsolkit.functional.attention_based_dropout`; eval: identity."""
        if not self.training:
            return features
        return attention_based_dropout(features, self.drop_rate, self.gamma, self.generator)

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}, gamma={self.gamma}"


class AttentiveDrop(nn.Module):
    """Aligned EIL's attentive drop at the split (:func:`~wsolkit.functional.attentive_drop`)."""

    def __init__(self, threshold: float, drop_prob: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.drop_prob = drop_prob
        self.generator: torch.Generator | None = None

    def forward(self, features: Tensor) -> Tensor:
        """``F_e = F_u × mask`` (in any mode; models only call it on the training path)."""
        return attentive_drop(features, self.threshold, self.drop_prob, self.generator)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, drop_prob={self.drop_prob}"
