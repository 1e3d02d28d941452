"""wsolevaluation (clovaai/wsolevaluation, CVPR 2020): key tables of its CAM and ADL networks.

``main.py: Trainer._torch_save_model`` saves ``{'architecture', 'epoch',
'state_dict', 'optimizer'}`` from the bare model (no DataParallel).
``architecture`` is the backbone name (``vgg16``, ``resnet50``,
``inception_v3``); the method is not saved (``config.py::get_architecture_type``:
HaS and CutMix build the ``cam`` network).

- VGG16 (``wsol/vgg.py``): ``features`` comes from ``make_layers(configs_dict
  [type][size])``, a ``Sequential`` of Conv2d/ReLU pairs, ``'M'`` max-pools and
  ``'A'`` ADL layers (no parameters), so inserted ADL layers and the missing pool4
  of the 28×28 variant renumber the later convs; wsolkit keeps torchvision's
  indices (pool4 an ``Identity`` at 23). ``conv6``, ``fc`` as in wsolkit.
- ResNet50 (``wsol/resnet.py``): torchvision's names; ADL modules are inserted
  into ``layer3``/``layer4`` (``_ADL_POSITION``), renumbering the later blocks.
- InceptionV3 (``wsol/inception.py``): torchvision's trunk names; conv6/conv7 are
  ``SPG_A3_1b``/``SPG_A3_2b`` = ``Sequential(Conv2d, ReLU)`` (their dropout is
  ``F.dropout``), the class-map conv is ``SPG_A4``. wsolkit's conv6/conv7 are
  ``Sequential(Dropout, Conv2d, ReLU)`` and its class-map conv ``head.conv``.
  InceptionAdl has the same keys as InceptionCam.
- ACoL (``VggAcol``, ``ResNetAcol``, ``InceptionAcol``): the trunk as in the CAM
  network (VGG's max-pools carry no weights, so both feature-map sizes have the
  same keys) and two classifier branches ``classifier_A`` / ``classifier_B``
  (conv, ReLU, conv, ReLU, 1×1 conv) = wsolkit's ``head.classifier_a`` / ``_b``.
- SPG (``VggSpg``, ``ResNetSpg``, ``InceptionSpg``): parts of the trunk are split
  off as ``SPG_A*`` (VGG: ``SPG_A_1`` = conv4_*, ``SPG_A_2`` = conv5_*, then
  ``SPG_A_3`` two 3×3 convs and ``SPG_A_4`` the class-map conv; ResNet50:
  ``SPG_A1`` = layer3's first block, ``SPG_A2`` the other five, ``SPG_A4``;
  InceptionV3 as its CAM network), and the side branches ``SPG_B_1a``,
  ``SPG_B_2a``, ``SPG_B_shared``, ``SPG_C`` = wsolkit's ``head.branch_*``.
"""

from __future__ import annotations

from wsolkit.checkpoints.layout import CAM_METHODS, FC, KEEP, Layout, SourceFormat
from wsolkit.checkpoints.rules import Rule

_VGG = "wsol/vgg.py: VggCam(make_layers(configs_dict"
# 28×28: no pool4, so conv5_1, conv5_2, conv5_3 sit at 23, 25, 27 (wsolkit: 24, 26, 28).
VGG_CONV5_WITHOUT_POOL4 = Rule("features.", "backbone.features.", range(23, 29), +1)

_INCEPTION = (
    Rule("SPG_A3_1b.0.", "backbone.conv6.1."),
    Rule("SPG_A3_2b.0.", "backbone.conv7.1."),
    Rule("SPG_A4.", "backbone.head.conv."),
    KEEP,
)
_ACOL = (
    Rule("classifier_A.", "backbone.head.classifier_a."),
    Rule("classifier_B.", "backbone.head.classifier_b."),
    KEEP,
)
# The SPG side branches (the same names in the three SPG networks), then the trunk.
_SPG_BRANCHES = (
    Rule("SPG_B_1a.", "backbone.head.branch_b1."),
    Rule("SPG_B_2a.", "backbone.head.branch_b2."),
    Rule("SPG_B_shared.", "backbone.head.branch_b_shared."),
    Rule("SPG_C.", "backbone.head.branch_c."),
    KEEP,
)

LAYOUTS = (
    Layout(
        backbone="vgg16",
        architecture="cam",
        methods=CAM_METHODS,
        rules=(FC, KEEP),
        classifier="fc.weight",
        large_feature_map=False,
        reference=f"{_VGG}['cam']['14x14']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="cam",
        methods=CAM_METHODS,
        rules=(VGG_CONV5_WITHOUT_POOL4, FC, KEEP),
        classifier="fc.weight",
        large_feature_map=True,
        reference=f"{_VGG}['cam']['28x28']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="adl",
        methods=("adl",),
        # ADL at 17 (after pool3), 24 (after conv4_3) and 32; pool4 at 25. conv4_1 … conv4_3
        # at 18, 20, 22 (wsolkit: 17, 19, 21); conv5_1 … conv5_3 at 26, 28, 30 (24, 26, 28).
        rules=(
            Rule("features.", "backbone.features.", range(18, 24), -1),
            Rule("features.", "backbone.features.", range(25, 32), -2),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=False,
        reference=f"{_VGG}['adl']['14x14']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="adl",
        methods=("adl",),
        # ADL at 17, 24 and 31, no pool4: conv4_* at 18, 20, 22; conv5_* at 25, 27, 29.
        rules=(
            Rule("features.", "backbone.features.", range(18, 24), -1),
            Rule("features.", "backbone.features.", range(25, 31), -1),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=True,
        reference=f"{_VGG}['adl']['28x28']))",
    ),
    Layout(
        backbone="resnet50",
        architecture="cam",
        methods=CAM_METHODS,
        rules=(FC, KEEP),
        classifier="fc.weight",
        large_feature_map=None,
        reference="wsol/resnet.py: ResNetCam(Bottleneck, [3, 4, 6, 3])",
    ),
    Layout(
        backbone="resnet50",
        architecture="adl",
        methods=("adl",),
        # _ADL_POSITION = [[], [], [], [0], [0, 2]]: ADL modules at layer3.1 (after block 0),
        # layer4.1 and layer4.4 (after blocks 0 and 2), so layer3.2-6 are blocks 1-5 and
        # layer4.2-3 blocks 1-2.
        rules=(
            Rule("layer3.", "backbone.layer3.", range(2, 7), -1),
            Rule("layer4.", "backbone.layer4.", range(2, 4), -1),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=None,
        reference="wsol/resnet.py: ResNetAdl(Bottleneck, [3, 4, 6, 3])",
    ),
    Layout(
        backbone="inception_v3",
        architecture="cam",
        methods=CAM_METHODS,
        rules=_INCEPTION,
        classifier="SPG_A4.weight",
        large_feature_map=None,
        reference="wsol/inception.py: InceptionCam",
    ),
    Layout(
        backbone="inception_v3",
        architecture="adl",
        methods=("adl",),
        rules=_INCEPTION,
        classifier="SPG_A4.weight",
        large_feature_map=None,
        reference="wsol/inception.py: InceptionAdl",
    ),
    *(
        Layout(
            backbone=backbone,
            architecture="acol",
            methods=("acol",),
            rules=_ACOL,
            classifier="classifier_A.4.weight",
            large_feature_map=None,
            reference=reference,
        )
        for backbone, reference in (
            ("vgg16", f"{_VGG}['acol'][size]))"),
            ("resnet50", "wsol/resnet.py: ResNetAcol(Bottleneck, [3, 4, 6, 3])"),
            ("inception_v3", "wsol/inception.py: InceptionAcol"),
        )
    ),
    Layout(
        backbone="vgg16",
        architecture="spg",
        methods=("spg",),
        # features = conv1_1 … pool3 (0-16); SPG_A_1 = conv4_1 … conv4_3 with their ReLUs
        # (wsolkit 17-22), SPG_A_2 = conv5_* (24-29; wsolkit's pool4 at 23 is the reference's
        # F.max_pool2d between them); SPG_A_3 two 3×3 convs, SPG_A_4 the class-map conv.
        rules=(
            Rule("SPG_A_1.", "backbone.features.", range(0, 5), +17),
            Rule("SPG_A_2.", "backbone.features.", range(0, 5), +24),
            Rule("SPG_A_3.", "backbone.head.main."),
            Rule("SPG_A_4.", "backbone.head.conv."),
            *_SPG_BRANCHES,
        ),
        classifier="SPG_A_4.weight",
        large_feature_map=None,
        reference=f"{_VGG}['spg'][size]))",
    ),
    Layout(
        backbone="resnet50",
        architecture="spg",
        methods=("spg",),
        # _make_layer(split=True) returns layer3 as SPG_A1 (block 0) and SPG_A2 (blocks 1-5).
        rules=(
            Rule("SPG_A1.0.", "backbone.layer3.0."),
            Rule("SPG_A2.", "backbone.layer3.", range(0, 5), +1),
            Rule("SPG_A4.", "backbone.head.conv."),
            *_SPG_BRANCHES,
        ),
        classifier="SPG_A4.weight",
        large_feature_map=None,
        reference="wsol/resnet.py: ResNetSpg(Bottleneck, [3, 4, 6, 3])",
    ),
    Layout(
        backbone="inception_v3",
        architecture="spg",
        methods=("spg",),
        rules=(*_INCEPTION[:-1], *_SPG_BRANCHES),
        classifier="SPG_A4.weight",
        large_feature_map=None,
        reference="wsol/inception.py: InceptionSpg",
    ),
)

WSOLEVALUATION = SourceFormat(
    name="wsolevaluation",
    repository="https://github.com/clovaai/wsolevaluation",
    summary="wsolevaluation's main.py (CVPR 2020): CAM, HaS, CutMix, ACoL, SPG, ADL on VGG16, "
    "ResNet50, InceptionV3",
    saved_by="main.py: Trainer._torch_save_model",
    container=("architecture", "epoch", "state_dict", "optimizer"),
    weights=(("state_dict", ""),),
    records=("architecture", "epoch"),
    bare=True,
    layouts=LAYOUTS,
)
