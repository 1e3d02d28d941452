"""ResNet50 (WSOL): torchvision's ResNet50 with layer4 at stride 1, GAP and a new classifier."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import ResNet50_Weights, resnet50
from torchvision.models.resnet import Bottleneck

from wsolkit.backbones.base import Backbone, GroupRecipe, StageInfo
from wsolkit.backbones.heads import LinearHead
from wsolkit.backbones.variants import AcolLayout, SpgLayout

_BLOCKS = {"layer1": 3, "layer2": 4, "layer3": 6, "layer4": 3}
_CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}


def _unstride(block: Bottleneck) -> None:
    """Make a (first) bottleneck keep the resolution: stride 1 on its 3×3 conv and shortcut."""
    block.conv2.stride = (1, 1)
    if block.downsample is not None:
        block.downsample[0].stride = (1, 1)
    block.stride = 1


class ResNet50(Backbone):
    """ResNet50 (WSOL): torchvision ResNet50, layer4 (and layer3 if large) at stride 1, GAP, fc."""

    name = "resnet50"
    description = (
        "ResNet50 (WSOL): torchvision ResNet50, layer4 at stride 1 (and layer3 with "
        "large_feature_map), GAP, linear (14×14 / 28×28)."
    )
    init_mode = "xavier"
    imagenet_url = ResNet50_Weights.IMAGENET1K_V1.url
    default_split_point = "layer4.0"
    default_adl_positions = ("layer3.0", "layer4.0", "layer4.2")

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.large_feature_map = large_feature_map
        net = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        _unstride(self.layer4[0])
        if large_feature_map:
            _unstride(self.layer3[0])
        self.finish_init(
            self.stage_table(large_feature_map), LinearHead(2048, num_classes), weights
        )

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """The stem, then every bottleneck block as its own stage (``layer3.0`` … ``layer4.2``)."""
        late = 8 if large_feature_map else 16
        reduction = {"layer1": 4, "layer2": 8, "layer3": late, "layer4": late}
        stages = [StageInfo("stem", 64, 4, ("conv1", "bn1", "relu", "maxpool"))]
        for layer, blocks in _BLOCKS.items():
            stages += [
                StageInfo(f"{layer}.{i}", _CHANNELS[layer], reduction[layer], (f"{layer}.{i}",))
                for i in range(blocks)
            ]
        return tuple(stages)

    def stage(self, name: str) -> nn.Module:
        """``conv1 → bn1 → relu → maxpool`` for the stem, else the bottleneck ``layerN[i]``."""
        if name == "stem":
            return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)
        layer, _, index = name.partition(".")
        if layer in _BLOCKS and index.isdigit() and int(index) < _BLOCKS[layer]:
            return getattr(self, layer)[int(index)]
        self._index(name)  # raises with the list of stages
        raise AssertionError(name)

    def map_pretrained_key(self, key: str) -> str | None:
        """torchvision's ``fc.*`` is this head's ``head.fc.*`` (loaded when it has K rows)."""
        return "head." + key if key.startswith("fc.") else key

    def is_new_parameter(self, name: str, recipe: GroupRecipe) -> bool:
        """bridging-gap: the head is new; wsolevaluation: ``layer4`` and the linear classifier.

        wsolevaluation matches its own names against ``'layer4.'`` and ``'fc.'``: the
        classifier ``fc`` (wsolkit's ``head.fc``) is new, other heads (ACoL's
        classifiers, SPG's branches) train at the trunk's rate, as there.
        """
        if recipe == "wsolevaluation":
            return name.startswith(("layer4.", "head.fc."))
        return name.startswith("head.")

    def acol_layout(self) -> AcolLayout:
        """wsolevaluation's ``ResNetAcol``: the classifiers on layer4's output, He init."""
        return AcolLayout("layer4.2", width=1024, init_mode="he")

    def spg_layout(self) -> SpgLayout:
        """wsolevaluation's ``ResNetSpg``: SPG-B1 on layer3.0, SPG-B2 on layer3.5 (1024 wide)."""
        return SpgLayout(
            b1_after="layer3.0", b2_after="layer3.5", b_width=1024, c_width=512, init_mode="xavier"
        )
