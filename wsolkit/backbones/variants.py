"""Where ACoL's and SPG's layers sit on a backbone: what a backbone declares for those methods.

ACoL and SPG replace a backbone's classifier by their own branches, and the
published networks (wsolevaluation's ``VggAcol`` … ``InceptionV3Spg``) also
change a few trunk details. A backbone describes this with two small frozen
records, returned by :meth:`~wsolkit.backbones.base.Backbone.acol_layout` and
:meth:`~wsolkit.backbones.base.Backbone.spg_layout`; the base class derives a
natural layout from the stage table, and the built-in backbones declare
wsolevaluation's. Stage names are those of ``stages``; module paths are
``get_submodule`` paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InitMode = Literal["he", "xavier"]
# (module path, stride) of a max-pool that becomes ``nn.MaxPool2d(3, stride, padding=1)``.
MaxPool = tuple[str, int]


@dataclass(frozen=True)
class AcolLayout:
    """ACoL's two classifiers on a backbone (Zhang et al., CVPR 2018).

    Attributes:
        trunk_end: the stage whose output F both classifiers read; the stages after it
            and the backbone's head are removed.
        width: output channels of each classifier's two 3×3 convolutions (wsolevaluation: 1024).
        init_mode: initialization of the classifiers, and of the whole trunk when the
            backbone was built without weights (as the reference initializes every module).
        max_pools: trunk max-pools replaced by 3×3 ones of the given stride, padding 1
            (VGG16: pool1–pool4, as wsolevaluation's ``'M1'``/``'M2'`` pools).
        pre_pool: F passes a 3×3 stride-1 max-pool then a 3×3 stride-1 average pool
            (padding 1) before both classifiers (VGG16: wsolevaluation's pool5 ``'M2'`` and
            ``F.avg_pool2d`` in ``VggAcol.forward``).
    """

    trunk_end: str
    width: int = 1024
    init_mode: InitMode = "xavier"
    max_pools: tuple[MaxPool, ...] = ()
    pre_pool: bool = False


@dataclass(frozen=True)
class SpgLayout:
    """SPG's branches on a backbone (Zhang et al., ECCV 2018).

    The main branch is the trunk, then ``main`` (new 3×3 convolutions + ReLU), then
    dropout and a 1×1 convolution to the K class maps (logits = their GAP). SPG-B1 and
    SPG-B2 read two intermediate feature maps (each through its own 3×3 conv + ReLU,
    then a shared 3×3 conv + ReLU and 1×1 conv to one map); SPG-C reads the input of
    the class-map convolution (3×3 conv + ReLU, 1×1 conv to one map).

    Attributes:
        b1_after: the stage whose output feeds SPG-B1.
        b2_after: the stage whose output feeds SPG-B2 (not before ``b1_after``).
        b_width: channels of the B branches' 3×3 convolutions.
        c_width: channels of SPG-C's 3×3 convolution.
        b1_through: a parameter-free module that B1's input passes first, the one that
            begins the next stage (VGG16: pool4; InceptionV3: the max-pool before Mixed_6a).
        trunk_end: None keeps every stage; a stage name removes the stages after it
            (VGG16: conv6, replaced by ``main``).
        main: widths of the new 3×3 convolutions after the trunk (VGG16: 512, 512).
        dropout: dropout before the class-map convolution and SPG-C (InceptionV3: 0.5).
        max_pools: trunk max-pools replaced by 3×3 ones of the given stride, padding 1.
        init_mode: initialization of the new layers, and of the whole trunk when the
            backbone was built without weights.
        wsolevaluation_new: prefixes of pretrained parameters that wsolevaluation's
            optimizer trains at the classifier rate (VGG16: conv4_x and conv5_x, which its
            ``VggSpg`` names ``SPG_A_1``/``SPG_A_2``, outside ``features.``).
    """

    b1_after: str
    b2_after: str
    b_width: int = 512
    c_width: int = 512
    b1_through: str | None = None
    trunk_end: str | None = None
    main: tuple[int, ...] = ()
    dropout: float = 0.0
    max_pools: tuple[MaxPool, ...] = ()
    init_mode: InitMode = "xavier"
    wsolevaluation_new: tuple[str, ...] = ()
