"""Classifier heads: how a final feature map becomes logits and class maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsolkit.functional.cam import class_activation_map


class Head(nn.Module):
    """Base of every head: ``forward(features) -> logits`` and ``class_maps``.

    ``class_weights`` is the K×C weight of a linear classifier over the final
    feature map, or ``None`` for heads that are not linear over it (methods
    that need the class weights, such as aligned EIL, check this).
    """

    kind: str = "head"
    num_classes: int

    @property
    def class_weights(self) -> Tensor | None:
        """K×C linear class weights over the final feature map, or None."""
        return None

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """Raw CAMs of ``classes`` (B×k indices): B×k×H×W."""
        raise NotImplementedError


class LinearHead(Head):
    """Global average pooling then a linear layer (``fc``); CAM = channel mean of ``w_y · F``."""

    kind = "linear"

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(in_channels, num_classes)

    @property
    def class_weights(self) -> Tensor:
        """``fc.weight``: K×C."""
        return self.fc.weight

    def forward(self, features: Tensor) -> Tensor:
        """B×C×H×W -> B×K logits: ``fc(GAP(F))``."""
        return self.fc(F.adaptive_avg_pool2d(features, 1).flatten(1))

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """B×k×H×W: ``(1/C) Σ_c w_y[c] F[c]`` for each class in ``classes`` (B×k)."""
        return class_activation_map(features, self.fc.weight, classes)


class ClassMapHead(Head):
    """Dropout, a 1×1 convolution to K class maps, then GAP for the logits (InceptionV3 WSOL).

    The CAM of class y is its class map (bias included), as in wsolevaluation's
    ``wsol/inception.py``.
    """

    kind = "class-map"

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def maps(self, features: Tensor) -> Tensor:
        """All K class maps: B×K×H×W."""
        return self.conv(self.dropout(features))

    def forward(self, features: Tensor) -> Tensor:
        """B×C×H×W -> B×K logits: ``GAP(conv1x1(dropout(F)))``."""
        return F.adaptive_avg_pool2d(self.maps(features), 1).flatten(1)

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """B×k×H×W: the class maps of ``classes`` (B×k indices), in ``features.dtype``."""
        weight, bias = self.conv.weight.to(features.dtype), self.conv.bias
        maps = F.conv2d(
            self.dropout(features), weight, None if bias is None else bias.to(weight.dtype)
        )
        index = classes.view(classes.shape[0], -1)
        batch = torch.arange(maps.shape[0], device=maps.device)[:, None]
        return maps[batch, index]
