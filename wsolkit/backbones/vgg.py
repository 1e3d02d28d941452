"""VGG16-GAP: torchvision's VGG16 convolutions, a new conv6, GAP and a linear classifier."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import VGG16_Weights
from torchvision.models.vgg import cfgs, make_layers

from wsolkit.backbones.base import Backbone, GroupRecipe, StageInfo
from wsolkit.backbones.heads import LinearHead

# Index ranges of torchvision's ``vgg16().features`` (config "D"): conv1_1 = 0 … conv5_3 = 28,
# pool1..pool5 = 4, 9, 16, 23, 30. The WSOL trunk keeps torchvision's indices (so its
# state dict is torchvision's) and drops pool5; "large feature map" also removes pool4.
_POOL4, _POOL5 = 23, 30
_BLOCKS: tuple[tuple[str, int, int, int], ...] = (
    # name, first index, end index (exclusive), channels
    ("block1", 0, 5, 64),  # conv1_1, conv1_2, pool1
    ("block2", 5, 10, 128),  # conv2_1, conv2_2, pool2
    ("block3", 10, 17, 256),  # conv3_1 … conv3_3, pool3
    ("block4", 17, 23, 512),  # conv4_1 … conv4_3 with its ReLU (before pool4)
    ("block5", 23, 30, 512),  # [pool4 at 14×14], conv5_1 … conv5_3 with ReLUs
)


class VGG16(Backbone):
    """VGG16-GAP (WSOL): VGG16 convs without pool5, conv6 3×3 512→1024 + ReLU, GAP, linear."""

    name = "vgg16"
    description = "VGG16-GAP: VGG16 convs (no pool5), conv6 512→1024 + ReLU, GAP, linear (14×14)."
    init_mode = "he"
    imagenet_url = VGG16_Weights.IMAGENET1K_V1.url
    default_split_point = "block4"
    default_adl_positions = ("block3", "block4", "block5")

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.large_feature_map = large_feature_map
        layers = list(make_layers(cfgs["D"], batch_norm=False))[:_POOL5]
        if large_feature_map:
            layers[_POOL4] = nn.Identity()
        self.features = nn.Sequential(*layers)
        self.conv6 = nn.Conv2d(512, 1024, kernel_size=3, padding=1)
        self.relu6 = nn.ReLU(inplace=False)
        self.finish_init(
            self.stage_table(large_feature_map), LinearHead(1024, num_classes), weights
        )

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """block1–block5 (torchvision ``features`` index ranges) and conv6."""
        reductions = {"block1": 2, "block2": 4, "block3": 8, "block4": 8}
        final = 8 if large_feature_map else 16
        stages = [
            StageInfo(name, ch, reductions.get(name, final), (f"features.{a}-{b - 1}",))
            for name, a, b, ch in _BLOCKS
        ]
        stages.append(StageInfo("conv6", 1024, final, ("conv6",)))
        return tuple(stages)

    def stage(self, name: str) -> nn.Module:
        """``features[a:b]`` for block1–block5, ``conv6 → ReLU`` for conv6."""
        if name == "conv6":
            return nn.Sequential(self.conv6, self.relu6)
        for block, start, end, _ in _BLOCKS:
            if block == name:
                return self.features[start:end]
        self._index(name)  # raises with the list of stages
        raise AssertionError(name)

    def map_pretrained_key(self, key: str) -> str | None:
        """torchvision's ``classifier.*`` (the fully connected layers) is not part of VGG16-GAP."""
        return None if key.startswith("classifier.") else key

    def is_new_parameter(self, name: str, recipe: GroupRecipe) -> bool:
        """Both recipes: everything outside ``features.`` (conv6 and the classifier) is new."""
        return not name.startswith("features.")
