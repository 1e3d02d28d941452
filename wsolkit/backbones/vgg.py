"""VGG16-GAP: torchvision's VGG16 convolutions, a new conv6, GAP and a linear classifier."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import VGG16_Weights
from torchvision.models.vgg import cfgs, make_layers

from wsolkit.backbones.base import Backbone, GroupRecipe, StageInfo
from wsolkit.backbones.heads import LinearHead
from wsolkit.backbones.variants import AcolLayout, SpgLayout

# Index ranges of torchvision's ``vgg16().features`` (config "D"): conv1_1 = 0 … conv5_3 = 28,
# pool1..pool5 = 4, 9, 16, 23, 30. The WSOL trunk keeps torchvision's indices (so its
# state dict is torchvision's) and drops pool5; "large feature map" also removes pool4.
_POOL4, _POOL5 = 23, 30
_POOLS_1_TO_3 = (4, 9, 16)
_CONV4_CONV5 = (17, 19, 21, 24, 26, 28)
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

    def acol_layout(self) -> AcolLayout:
        """wsolevaluation's ``VggAcol``: 3×3 max-pools, pool5 and an average pool, 1024 wide.

        pool1–pool4 become 3×3 / stride 2 / padding 1 max-pools (pool4 stride 1 with
        ``large_feature_map``), and F = conv5_3's output passes a 3×3 stride-1 max-pool
        (pool5) and a 3×3 stride-1 average pool before the classifiers (14×14 / 28×28).
        """
        stride4 = 1 if self.large_feature_map else 2
        pools = tuple((f"features.{i}", 2) for i in _POOLS_1_TO_3)
        pools += ((f"features.{_POOL4}", stride4),)
        return AcolLayout("block5", width=1024, init_mode="xavier", max_pools=pools, pre_pool=True)

    def spg_layout(self) -> SpgLayout:
        """wsolevaluation's ``VggSpg``: conv6 replaced by two 3×3 convs 512→512 + ReLU.

        pool4 becomes a 3×3 / stride 2 / padding 1 max-pool (absent with
        ``large_feature_map``); SPG-B1 reads pool4's output, SPG-B2 conv5_3's, both
        through 512-wide convs. wsolevaluation names conv4_x / conv5_x ``SPG_A_1`` /
        ``SPG_A_2`` (outside ``features.``), so its optimizer trains them at the
        classifier rate.
        """
        pools = () if self.large_feature_map else ((f"features.{_POOL4}", 2),)
        return SpgLayout(
            b1_after="block4",
            b1_through=f"features.{_POOL4}",
            b2_after="block5",
            b_width=512,
            c_width=512,
            trunk_end="block5",
            main=(512, 512),
            max_pools=pools,
            init_mode="xavier",
            wsolevaluation_new=tuple(f"features.{i}." for i in _CONV4_CONV5),
        )
