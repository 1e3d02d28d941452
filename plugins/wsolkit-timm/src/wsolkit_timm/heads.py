"""TS-CAM's head: a 3×3 convolution to K class maps over the patch map, then GAP for the logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from wsolkit.backbones import Head


class ConvClassMapHead(Head):
    """``conv3×3(F)`` → K class maps (B×K×h×w); logits = their global average (TS-CAM).

    As TS-CAM's ``nn.Conv2d(embed_dim, num_classes, kernel_size=3, stride=1,
    padding=1)`` with ``nn.AdaptiveAvgPool2d(1)``; no dropout. The CAM of class y
    is its class map, bias included. Not linear over F, so ``class_weights`` is
    ``None`` and methods that need a linear head (aligned EIL) refuse it.
    """

    kind = "class-map"

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=3, stride=1, padding=1)

    def maps(self, features: Tensor) -> Tensor:
        """All K class maps: B×C×h×w → B×K×h×w."""
        return self.conv(features)

    def forward(self, features: Tensor) -> Tensor:
        """B×C×h×w → B×K logits: ``GAP(conv3×3(F))``."""
        return F.adaptive_avg_pool2d(self.maps(features), 1).flatten(1)

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """B×k×h×w: the class maps of ``classes`` (B×k indices), in ``features.dtype``."""
        weight, bias = self.conv.weight.to(features.dtype), self.conv.bias
        maps = F.conv2d(
            features, weight, None if bias is None else bias.to(weight.dtype), padding=1
        )
        index = classes.view(classes.shape[0], -1)
        batch = torch.arange(maps.shape[0], device=maps.device)[:, None]
        return maps[batch, index]
