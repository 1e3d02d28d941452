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
    # ACoL and SPG layouts join here with those methods (see NOT_YET).
)
# ACoL networks (VggAcol, ResNetAcol, InceptionAcol) carry two classifier branches
# classifier_A / classifier_B; SPG networks (VggSpg, ResNetSpg, InceptionSpg) the shared
# side branch SPG_B_shared (besides SPG_A*, SPG_B_1a, SPG_B_2a, SPG_C).
NOT_YET = (("classifier_B.", "ACoL"), ("SPG_B_shared.", "SPG"))

WSOLEVALUATION = SourceFormat(
    name="wsolevaluation",
    repository="https://github.com/clovaai/wsolevaluation",
    summary="wsolevaluation's main.py (CVPR 2020): CAM, HaS, CutMix, ADL on VGG16, ResNet50, "
    "InceptionV3",
    saved_by="main.py: Trainer._torch_save_model",
    container=("architecture", "epoch", "state_dict", "optimizer"),
    weights=(("state_dict", ""),),
    records=("architecture", "epoch"),
    bare=True,
    layouts=LAYOUTS,
    not_yet=NOT_YET,
)
