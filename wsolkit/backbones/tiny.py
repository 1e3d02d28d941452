"""A small VGG-style CNN for demos, tests and the synthetic benchmark (trains on a CPU)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from torch import nn

from wsolkit.backbones.base import Backbone, GroupRecipe, StageInfo
from wsolkit.backbones.heads import LinearHead
from wsolkit.backbones.variants import AcolLayout, SpgLayout
from wsolkit.backbones.weights import NamedWeights


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


#: ``weights`` value of the shipped weights: conv1–conv6 trained on the synthetic pretext task
#: of :mod:`wsolkit.engine.pretext`, in this package's ``files/`` folder.
SYNTHETIC_PRETRAINED = "synthetic-pretrained"
SHIPPED_FILE = Path(__file__).with_name("files") / "tiny-synthetic-pretrained.pt"
SHIPPED_SHA256 = "2a92ca58df9d671e1e64a0ebd26b190698772e064e4044a98fb0db8aac2b7fd9"
REMAKE_COMMAND = f"python -m wsolkit.engine.pretext --out {SHIPPED_FILE.name}"


class Tiny(Backbone):
    """Tiny CNN: conv/2 3→16, conv 16→32, maxpool, conv 32→64 ×2, conv6 64→64, GAP, linear."""

    name = "tiny"
    description = (
        "Tiny CNN for demos and the synthetic benchmark: 5 convs (BN+ReLU; conv6 with bias), "
        "GAP, linear; 16×16 feature map at 64 px; trains on a CPU, from scratch or from its "
        "shipped weights (--weights synthetic-pretrained)."
    )
    init_mode = "he"
    imagenet_url = None
    default_split_point = "conv2"
    default_adl_positions = ("conv2", "conv4")

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.large_feature_map = large_feature_map
        self.conv1 = _conv_bn_relu(3, 16, stride=2)
        self.conv2 = nn.Sequential(*_conv_bn_relu(16, 32), nn.MaxPool2d(2))
        self.conv3 = _conv_bn_relu(32, 64)
        self.conv4 = _conv_bn_relu(64, 64)
        self.conv6 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU())
        self.finish_init(self.stage_table(large_feature_map), LinearHead(64, num_classes), weights)

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """conv1 (/2), conv2 with the max-pool (/4, the split point), conv3, conv4, conv6.

        ``large_feature_map`` is accepted for a uniform constructor and changes nothing.
        """
        return (
            StageInfo("conv1", 16, 2, ("conv1",)),
            StageInfo("conv2", 32, 4, ("conv2",)),
            StageInfo("conv3", 64, 4, ("conv3",)),
            StageInfo("conv4", 64, 4, ("conv4",)),
            StageInfo("conv6", 64, 4, ("conv6",)),
        )

    @classmethod
    def named_weights(cls) -> Mapping[str, NamedWeights]:
        """``synthetic-pretrained``: conv1–conv6 trained on the synthetic pretext task."""
        return {
            SYNTHETIC_PRETRAINED: NamedWeights(
                path=SHIPPED_FILE,
                sha256=SHIPPED_SHA256,
                description="conv1–conv6 trained on a pretext task over synthetic images "
                "(body direction, stripe period, body and head hue)",
                remake=REMAKE_COMMAND,
            )
        }

    def stage(self, name: str) -> nn.Module:
        """The stage's module (``conv1`` … ``conv6``)."""
        self._index(name)
        return getattr(self, name)

    def is_new_parameter(self, name: str, recipe: GroupRecipe) -> bool:
        """Both recipes: conv6 and the classifier are new, as for VGG16."""
        return name.startswith(("conv6.", "head."))

    def acol_layout(self) -> AcolLayout:
        """ACoL on tiny: the classifiers on conv4's output (conv6 removed), 64 wide.

        Xavier initialization, as wsolevaluation's VGG-style ``VggAcol`` (the trunk too
        when built without weights; it trains more steadily from scratch than He).
        """
        return AcolLayout("conv4", width=64, init_mode="xavier")

    def spg_layout(self) -> SpgLayout:
        """SPG on tiny: SPG-B1 on conv2 (after its max-pool), SPG-B2 on conv4, 64 wide; conv6
        stays in the main branch (as InceptionV3's conv6/conv7 do). Xavier, as every
        wsolevaluation SPG network.
        """
        return SpgLayout(
            b1_after="conv2", b2_after="conv4", b_width=64, c_width=64, init_mode="xavier"
        )
