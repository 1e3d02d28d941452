"""InceptionV3 (WSOL; wsolevaluation's ``wsol/inception.py``) from torchvision's modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import Inception_V3_Weights
from torchvision.models.inception import BasicConv2d, InceptionA, InceptionB, InceptionC

from wsolkit.backbones.base import Backbone, GroupRecipe, StageInfo
from wsolkit.backbones.heads import ClassMapHead
from wsolkit.backbones.variants import AcolLayout, SpgLayout


def _keep_resolution_block(in_channels: int, out_channels: int, **kwargs: Any) -> BasicConv2d:
    """A torchvision ``BasicConv2d`` whose stride-2 3×3 convs become stride 1, padding 1."""
    if kwargs.get("stride") == 2:
        kwargs.update(stride=1, padding=1)
    return BasicConv2d(in_channels, out_channels, **kwargs)


class InceptionBStride1(InceptionB):
    """torchvision's InceptionB (Mixed_6a) at kernel 3, stride 1, padding 1 (keeps the size)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, conv_block=_keep_resolution_block)

    def _forward(self, x: Tensor) -> list[Tensor]:
        branch3x3 = self.branch3x3(x)
        double = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return [branch3x3, double, pooled]


def _new_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Dropout(0.5), nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


_MIXED = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d")
_MIXED += ("Mixed_6e",)
_STEM = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
)


class InceptionV3(Backbone):
    """InceptionV3 (WSOL): trunk to Mixed_6e at stride 16 (8 if large), 2 convs, class-map head."""

    name = "inception_v3"
    description = (
        "InceptionV3 (WSOL): torchvision Inception modules to Mixed_6e (14×14 / 28×28), "
        "two 3×3 convs 1024 + ReLU with dropout, 1×1-conv class maps; CAM = class map."
    )
    init_mode = "xavier"
    imagenet_url = Inception_V3_Weights.IMAGENET1K_V1.url
    default_split_point = "Mixed_6d"
    default_adl_positions = ("Mixed_5d", "Mixed_6e", "conv7")
    # wsolevaluation's InceptionV3-ADL has no dropout in its head.
    adl_replaces_dropout = True

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.large_feature_map = large_feature_map
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2, padding=1)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.maxpool3: nn.Module = (
            nn.Identity() if large_feature_map else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        )
        self.Mixed_6a = InceptionBStride1(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.conv6 = _new_conv(768, 1024)
        self.conv7 = _new_conv(1024, 1024)
        head = ClassMapHead(1024, num_classes, dropout=0.5)
        self.finish_init(self.stage_table(large_feature_map), head, weights)

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """stem (to the second max-pool), Mixed_5b … Mixed_6e, conv6, conv7."""
        late = 8 if large_feature_map else 16
        stages = [StageInfo("stem", 192, 8, _STEM)]
        stages += [StageInfo(n, 256 if n == "Mixed_5b" else 288, 8, (n,)) for n in _MIXED[:3]]
        stages.append(StageInfo("Mixed_6a", 768, late, ("maxpool3", "Mixed_6a")))
        stages += [StageInfo(n, 768, late, (n,)) for n in _MIXED[4:]]
        stages += [StageInfo("conv6", 1024, late, ("conv6",))]
        stages += [StageInfo("conv7", 1024, late, ("conv7",))]
        return tuple(stages)

    @classmethod
    def head_kind(cls) -> str:
        """A 1×1-conv class-map head."""
        return "class-map"

    def stage(self, name: str) -> nn.Module:
        """The stage's module; the stem and Mixed_6a (with its max-pool) are Sequential views."""
        if name == "stem":
            return nn.Sequential(*(getattr(self, n) for n in _STEM))
        if name == "Mixed_6a":
            return nn.Sequential(self.maxpool3, self.Mixed_6a)
        self._index(name)
        return getattr(self, name)

    def map_pretrained_key(self, key: str) -> str | None:
        """Mixed_7*, AuxLogits and torchvision's fc are not part of the WSOL InceptionV3."""
        return None if key.startswith(("Mixed_7", "AuxLogits.", "fc.")) else key

    def is_new_parameter(self, name: str, recipe: GroupRecipe) -> bool:
        """Both recipes (wsolevaluation): everything but the Conv2d_* and Mixed_* trunk is new."""
        return not name.startswith(("Conv2d_", "Mixed_"))

    def acol_layout(self) -> AcolLayout:
        """wsolevaluation's ``InceptionAcol``: the classifiers on Mixed_6e (no conv6, conv7)."""
        return AcolLayout("Mixed_6e", width=1024, init_mode="xavier")

    def spg_layout(self) -> SpgLayout:
        """wsolevaluation's ``InceptionSpg``: SPG-B1 after the max-pool before Mixed_6a, SPG-B2
        on Mixed_6d (512 wide); conv6, conv7 and the class-map convolution are its main branch.
        """
        return SpgLayout(
            b1_after="Mixed_5d",
            b1_through="maxpool3",
            b2_after="Mixed_6d",
            b_width=512,
            c_width=512,
            dropout=0.5,
            init_mode="xavier",
        )
