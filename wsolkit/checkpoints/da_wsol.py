"""DA-WSOL (zh460045050/DA-WSOL_CVPR2022) and BagCAMs: extractor + 1×1-conv classifier tables.

``libs/solver.py: Trainer._torch_save_model`` saves ``{'architecture', 'epoch',
'state_dict_extractor', 'optimizer_extractor', 'state_dict_classifier',
'optimizer_classifier'}`` (plus the domain classifier's two entries with
``--uda_method dann``); BagCAMs' solver saves the same. The extractor is
wsolevaluation's trunk without a classifier (``libs/wsol/model/backbone.py``:
``ResNet``, ``ResNetAdl`` for ``--wsol_method adl``, ``Inception``; the solver
never builds its VGG16). The classifier is ``CAMClassifier``
(``libs/wsol/model/classifier.py``): one 1×1 convolution ``fc`` C→K with bias,
applied to the pooled features for the logits and at every position for the
CAM, which is then min-max normalized — the same map as wsolkit's after
normalization (wsolkit's raw CAM is the channel mean without the bias).

The two state dicts are read as one, their keys prefixed ``extractor.`` and
``classifier.``.
"""

from __future__ import annotations

from wsolkit.checkpoints.layout import CAM_METHODS, Layout, SourceFormat
from wsolkit.checkpoints.rules import Rule

_CLASSIFIER = "classifier.fc.weight"
# ResNet50's linear head is wsolkit's LinearHead: the 1×1 conv's K×2048×1×1 weight is squeezed.
_LINEAR_FROM_CONV = Rule("classifier.fc.", "backbone.head.fc.", reshape="conv1x1-to-linear")
_EXTRACTOR = Rule("extractor.", "backbone.")
_CAM_NOTE = (
    "DA-WSOL's raw CAM is the classifier's 1×1 conv with its bias; wsolkit's is the channel "
    "mean w_y·F/C without it: the two differ by a per-class scale and offset, which min-max "
    "normalization removes",
)

LAYOUTS = (
    Layout(
        backbone="resnet50",
        architecture="cam",
        methods=CAM_METHODS,
        rules=(_LINEAR_FROM_CONV, _EXTRACTOR),
        classifier=_CLASSIFIER,
        large_feature_map=None,
        reference="libs/wsol/model/backbone.py: ResNet + classifier.py: CAMClassifier",
        notes=_CAM_NOTE,
    ),
    Layout(
        backbone="resnet50",
        architecture="adl",
        methods=("adl",),
        # ADL modules at layer3.1, layer4.1, layer4.4, as in wsolevaluation's ResNetAdl.
        rules=(
            _LINEAR_FROM_CONV,
            Rule(
                "extractor.fc.",
                None,
                why="ResNetAdl's own linear layer, never called: CAMClassifier classifies",
            ),
            Rule("extractor.layer3.", "backbone.layer3.", range(2, 7), -1),
            Rule("extractor.layer4.", "backbone.layer4.", range(2, 4), -1),
            _EXTRACTOR,
        ),
        classifier=_CLASSIFIER,
        large_feature_map=None,
        reference="libs/wsol/model/backbone.py: ResNetAdl + classifier.py: CAMClassifier",
        notes=_CAM_NOTE,
    ),
    Layout(
        backbone="inception_v3",
        architecture="cam",
        methods=CAM_METHODS,
        # InceptionV3's class-map head is a 1×1 conv too: no reshape.
        rules=(
            Rule("classifier.fc.", "backbone.head.conv."),
            Rule("extractor.SPG_A3_1b.0.", "backbone.conv6.1."),
            Rule("extractor.SPG_A3_2b.0.", "backbone.conv7.1."),
            _EXTRACTOR,
        ),
        classifier=_CLASSIFIER,
        large_feature_map=None,
        reference="libs/wsol/model/backbone.py: Inception + classifier.py: CAMClassifier",
    ),
)

DA_WSOL = SourceFormat(
    name="da-wsol",
    repository="https://github.com/zh460045050/DA-WSOL_CVPR2022",
    summary="DA-WSOL / BagCAMs solver.py (CVPR 2022): extractor + 1×1-conv classifier on "
    "ResNet50, InceptionV3",
    saved_by="libs/solver.py: Trainer._torch_save_model",
    container=(
        "architecture",
        "epoch",
        "state_dict_extractor",
        "optimizer_extractor",
        "state_dict_classifier",
        "optimizer_classifier",
        "state_dict_domain_classifier",
        "optimizer_domain_classifier",
    ),
    weights=(("state_dict_extractor", "extractor."), ("state_dict_classifier", "classifier.")),
    records=("architecture", "epoch"),
    bare=False,
    layouts=LAYOUTS,
)
