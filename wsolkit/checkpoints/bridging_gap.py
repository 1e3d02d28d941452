"""bridging-gap (ejkim47/bridging-gap-wsol, CVPR 2022): key tables of its CAM and drop networks.

``trainer.py: Trainer._torch_save_model`` saves ``{'state_dict'}`` from the bare
model (its DataParallel wrapper is ``model_multi``, not saved). Nothing records
the backbone or the method (``config.py``: ``--wsol_method bridging-gap`` builds
the ``drop`` network, ``cam`` the vanilla one).

- The vanilla networks (``VggCam``, ``ResNetCam``) are wsolevaluation's, key for key.
- ``VggDrop`` (aligned EIL): ``features`` is a ``ModuleList`` of
  ``[Sequential(conv1_1 … conv4_3 with ReLUs), AttentiveDrop, Sequential([pool4],
  conv5_1 … conv5_3 with ReLUs)]`` (``make_layers`` with the ``'D'`` entry).
- ``ResNetDrop``: ``layer4`` is split into ``layer4_1`` (block 0) and
  ``layer4_2`` (blocks 1 and 2).
"""

from __future__ import annotations

from wsolkit.checkpoints.layout import FC, KEEP, Layout, SourceFormat
from wsolkit.checkpoints.rules import Rule
from wsolkit.checkpoints.wsolevaluation import VGG_CONV5_WITHOUT_POOL4

_DROP = "wsol/vgg.py: VggDrop(make_layers(configs_dict['drop']"
_CONV1_TO_CONV4 = Rule("features.0.", "backbone.features.", range(0, 23))

LAYOUTS = (
    Layout(
        backbone="vgg16",
        architecture="cam",
        methods=("cam",),
        rules=(FC, KEEP),
        classifier="fc.weight",
        large_feature_map=False,
        reference="wsol/vgg.py: VggCam(make_layers(configs_dict['cam']['14x14']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="cam",
        methods=("cam",),
        rules=(VGG_CONV5_WITHOUT_POOL4, FC, KEEP),
        classifier="fc.weight",
        large_feature_map=True,
        reference="wsol/vgg.py: VggCam(make_layers(configs_dict['cam']['28x28']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="drop",
        methods=("aligned-eil",),
        # features.2 = [pool4, conv5_1, ReLU, conv5_2, ReLU, conv5_3, ReLU]: index n → 23 + n.
        rules=(
            _CONV1_TO_CONV4,
            Rule("features.2.", "backbone.features.", range(0, 7), +23),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=False,
        reference=f"{_DROP}['14x14']))",
    ),
    Layout(
        backbone="vgg16",
        architecture="drop",
        methods=("aligned-eil",),
        # features.2 = [conv5_1, ReLU, conv5_2, ReLU, conv5_3, ReLU]: index n → 24 + n.
        rules=(
            _CONV1_TO_CONV4,
            Rule("features.2.", "backbone.features.", range(0, 6), +24),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=True,
        reference=f"{_DROP}['28x28']))",
    ),
    Layout(
        backbone="resnet50",
        architecture="cam",
        methods=("cam",),
        rules=(FC, KEEP),
        classifier="fc.weight",
        large_feature_map=None,
        reference="wsol/resnet.py: ResNetCam(Bottleneck, [3, 4, 6, 3])",
    ),
    Layout(
        backbone="resnet50",
        architecture="drop",
        methods=("aligned-eil",),
        rules=(
            Rule("layer4_1.", "backbone.layer4.", range(0, 1)),
            Rule("layer4_2.", "backbone.layer4.", range(0, 2), +1),
            FC,
            KEEP,
        ),
        classifier="fc.weight",
        large_feature_map=None,
        reference="wsol/resnet.py: ResNetDrop(Bottleneck, [3, 4, 6, 3])",
    ),
)

BRIDGING_GAP = SourceFormat(
    name="bridging-gap",
    repository="https://github.com/ejkim47/bridging-gap-wsol",
    summary="bridging-gap's trainer.py (CVPR 2022): vanilla CAM and aligned EIL ('drop') on "
    "VGG16, ResNet50",
    saved_by="trainer.py: Trainer._torch_save_model",
    container=("state_dict",),
    weights=(("state_dict", ""),),
    records=(),
    bare=True,
    layouts=LAYOUTS,
)
