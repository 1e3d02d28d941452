"""Shared WSOL adaptation of torchvision models whose trunk is one ``features`` Sequential.

MobileNetV3 and EfficientNet keep their convolutional trunk in ``model.features``
(a stem, inverted-residual blocks, a final 1×1 convolution) and classify with
``avgpool`` + ``classifier``. The WSOL variant keeps ``features`` as it is, under
the same name (so torchvision's state dict loads key for key), turns the
stride-2 convolution of the last down-sampling block into stride 1 (14×14 at 224;
with ``large_feature_map`` also the one before, 28×28), drops ``classifier``
and puts wsolkit's GAP + new linear head on the last feature map.

Each block (``features.N`` or, for stages of several blocks, ``features.N.i``)
is one wsolkit stage, named by its module path, so any block can be a split
point or an ADL position.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from torch import nn
from wsolkit.backbones import Backbone, LinearHead, StageInfo

from wsolkit_torchvision_extra.strides import remove_stride


class FeatureTrunkBackbone(Backbone):
    """A torchvision ``features`` trunk cut into per-block stages, GAP and a new linear head.

    Subclasses set ``layout`` (per block: stage name, output channels, torchvision's
    reduction), ``unstrided`` / ``unstrided_large`` (the blocks whose stride is
    removed), ``late_stages`` (the block prefixes that the "wsolevaluation" recipe
    trains at the classifier learning rate) and implement ``build_features()``.
    """

    init_mode = "he"  # torchvision's own init for these nets: Kaiming-normal fan-out, BN 1/0
    layout: ClassVar[tuple[tuple[str, int, int], ...]] = ()
    unstrided: ClassVar[str] = ""
    unstrided_large: ClassVar[str] = ""
    late_stages: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, *, num_classes: int, large_feature_map: bool = False, weights: str | Path = "none"
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.large_feature_map = large_feature_map
        self.features = self.build_features()
        #: qualified names of the convolutions whose stride 2 became 1
        self.strides_removed = tuple(
            remove_stride(self.get_submodule(block), block)
            for block in self.unstrided_blocks(large_feature_map)
        )
        table = self.stage_table(large_feature_map)
        self.finish_init(table, LinearHead(table[-1].channels, num_classes), weights)

    def build_features(self) -> nn.Sequential:
        """torchvision's ``model.features`` (built with ``weights=None``)."""
        raise NotImplementedError

    @classmethod
    def unstrided_blocks(cls, large_feature_map: bool = False) -> tuple[str, ...]:
        """The blocks whose stride-2 convolution becomes stride 1, in network order."""
        return (cls.unstrided_large, cls.unstrided) if large_feature_map else (cls.unstrided,)

    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """One stage per block; the reduction halves from each unstrided block on."""
        removed = set(cls.unstrided_blocks(large_feature_map))
        stages, divisor = [], 1
        for name, channels, reduction in cls.layout:
            if name in removed:
                divisor *= 2
            stages.append(StageInfo(name, channels, reduction // divisor, (name,)))
        return tuple(stages)

    def stage(self, name: str) -> nn.Module:
        """The block ``name`` (``features.N`` or ``features.N.i``)."""
        self.stage_info(name)  # raises, listing the stages, for an unknown name
        return self.get_submodule(name)

    def map_pretrained_key(self, key: str) -> str | None:
        """torchvision's ``classifier.*`` is not part of the WSOL variant; ``features.*`` is."""
        return None if key.startswith("classifier.") else key

    def is_new_parameter(self, name: str, recipe: str) -> bool:
        """bridging-gap: only the head is new; wsolevaluation: the late stages too."""
        if name.startswith("head."):
            return True
        return recipe == "wsolevaluation" and name.startswith(
            tuple(s + "." for s in self.late_stages)
        )
