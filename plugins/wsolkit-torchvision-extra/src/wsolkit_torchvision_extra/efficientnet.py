"""EfficientNet-B0 (WSOL): torchvision's trunk with the last stride removed, GAP, linear.

torchvision's ``efficientnet_b0().features`` (a stem, 7 stages of MBConv blocks,
a 1×1 conv; stride 32). Every MBConv block is one wsolkit stage:

| stage | blocks | out channels | stride (torchvision) | WSOL |
|---|---|---|---|---|
| features.0 (3×3 conv, SiLU) | — | 32 | 2 | 2 |
| features.1.0 | 1 | 16 | 2 | 2 |
| features.2.0, .1 | 2 | 24 | 4 | 4 |
| features.3.0, .1 | 2 | 40 | 8 | 8 |
| features.4.0 … .2 | 3 | 80 | 16 | 16 (8 with large_feature_map) |
| features.5.0 … .2 | 3 | 112 | 16 | 16 (8) |
| features.6.0 … .3 | 4 | 192 | 32 | 16 (8) |
| features.7.0 | 1 | 320 | 32 | 16 (8) |
| features.8 (1×1 conv 320→1280, SiLU) | — | 1280 | 32 | 16 (8) |

The 5×5 depthwise convolution ``features.6.0.block.1.0`` goes from stride 2 to
1 (no dilation): 14×14 at 224 input. With ``large_feature_map`` the 3×3
depthwise ``features.4.0.block.1.0`` also does: 28×28. torchvision's classifier
(Dropout, Linear 1280→1000) is dropped; the head is GAP + a new Linear 1280→K.

Stochastic depth is off (torchvision trains B0 with 0.2): an erasing method
runs f2 twice per step and compares the two paths, which must be the same
network; wsolkit's other backbones have no random layers in their trunk either.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import EfficientNet_B0_Weights, efficientnet_b0

from wsolkit_torchvision_extra.trunk import FeatureTrunkBackbone

# (stage index, blocks, out channels, torchvision reduction) of efficientnet_b0().features
_STAGES = ((1, 1, 16, 2), (2, 2, 24, 4), (3, 2, 40, 8), (4, 3, 80, 16))
_STAGES += ((5, 3, 112, 16), (6, 4, 192, 32), (7, 1, 320, 32))
_LAYOUT = (
    ("features.0", 32, 2),
    *((f"features.{s}.{i}", ch, r) for s, n, ch, r in _STAGES for i in range(n)),
    ("features.8", 1280, 32),
)


class EfficientNetB0(FeatureTrunkBackbone):
    """EfficientNet-B0 (WSOL): features.6.0 (and features.4.0 if large) at stride 1, GAP, fc."""

    name = "efficientnet_b0"
    description = (
        "EfficientNet-B0 (WSOL): torchvision trunk, features.6.0 at stride 1 (and features.4.0 "
        "with large_feature_map), no stochastic depth, GAP, linear 1280→K (14×14 / 28×28)."
    )
    imagenet_url = EfficientNet_B0_Weights.IMAGENET1K_V1.url
    layout = _LAYOUT
    unstrided = "features.6.0"
    unstrided_large = "features.4.0"
    late_stages = ("features.6", "features.7", "features.8")
    # Like ResNet50's layer4.0: split after the first block of the last (unstrided) stage.
    default_split_point = "features.6.0"
    # Like ResNet50's: the first block at stride 16, the split point, the last MBConv block.
    default_adl_positions = ("features.4.0", "features.6.0", "features.7.0")

    def build_features(self) -> nn.Sequential:
        """torchvision's ``efficientnet_b0(weights=None, stochastic_depth_prob=0).features``."""
        return efficientnet_b0(weights=None, stochastic_depth_prob=0.0).features
