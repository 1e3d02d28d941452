"""MobileNetV3-Large (WSOL): torchvision's trunk with the last stride removed, GAP, linear.

torchvision's ``mobilenet_v3_large().features`` (17 blocks, stride 32):

| block | out channels | stride (torchvision) | WSOL |
|---|---|---|---|
| features.0 (3×3 conv, Hardswish) | 16 | 2 | 2 |
| features.1 | 16 | 2 | 2 |
| features.2, features.3 | 24 | 4 | 4 |
| features.4 … features.6 | 40 | 8 | 8 |
| features.7 … features.10 | 80 | 16 | 16 (8 with large_feature_map) |
| features.11, features.12 | 112 | 16 | 16 (8) |
| features.13 … features.15 | 160 | 32 | 16 (8) |
| features.16 (1×1 conv 160→960, Hardswish) | 960 | 32 | 16 (8) |

The 5×5 depthwise convolution ``features.13.block.1.0`` goes from stride 2 to 1
(no dilation, as wsolkit's ResNet50 does with layer4): 14×14 at 224 input. With
``large_feature_map`` the 3×3 depthwise ``features.7.block.1.0`` also does: 28×28.
torchvision's classifier (Linear 960→1280, Hardswish, Dropout, Linear 1280→1000)
acts on the pooled vector and is dropped; the head is GAP + a new Linear 960→K.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import MobileNet_V3_Large_Weights, mobilenet_v3_large

from wsolkit_torchvision_extra.trunk import FeatureTrunkBackbone

_LAYOUT = (
    ("features.0", 16, 2),
    ("features.1", 16, 2),
    ("features.2", 24, 4),
    ("features.3", 24, 4),
    ("features.4", 40, 8),
    ("features.5", 40, 8),
    ("features.6", 40, 8),
    ("features.7", 80, 16),
    ("features.8", 80, 16),
    ("features.9", 80, 16),
    ("features.10", 80, 16),
    ("features.11", 112, 16),
    ("features.12", 112, 16),
    ("features.13", 160, 32),
    ("features.14", 160, 32),
    ("features.15", 160, 32),
    ("features.16", 960, 32),
)


class MobileNetV3Large(FeatureTrunkBackbone):
    """MobileNetV3-Large (WSOL): features.13 (and features.7 if large) at stride 1, GAP, fc."""

    name = "mobilenet_v3_large"
    description = (
        "MobileNetV3-Large (WSOL): torchvision trunk, features.13 at stride 1 (and features.7 "
        "with large_feature_map), GAP, linear 960→K (14×14 / 28×28)."
    )
    imagenet_url = MobileNet_V3_Large_Weights.IMAGENET1K_V1.url
    layout = _LAYOUT
    unstrided = "features.13"
    unstrided_large = "features.7"
    late_stages = ("features.13", "features.14", "features.15", "features.16")
    # Like ResNet50's layer4.0: f2 = the two last inverted residuals and the 1×1 conv.
    default_split_point = "features.13"
    # Like ResNet50's (layer3.0, layer4.0, layer4.2): the first block at stride 16, the
    # split point, the last inverted residual (before the 1×1 conv, as VGG16's conv5_3).
    default_adl_positions = ("features.7", "features.13", "features.15")

    def build_features(self) -> nn.Sequential:
        """``torchvision.models.mobilenet_v3_large(weights=None).features``."""
        return mobilenet_v3_large(weights=None).features
