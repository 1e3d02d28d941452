"""TS-CAM (vasgaowei/TS-CAM, ICCV 2021): DeiT-S with a 3×3-conv class-map head.

``tools_cam/train_cam.py`` saves ``{'epoch', 'state_dict', 'best_map'}`` (every
epoch's ``model_epoch<N>.pth``, ``model_best.pth``, ``model_best_top1_loc.pth``)
from the ``nn.DataParallel``-wrapped model, so every key starts with ``module.``
(removed on reading, as everywhere). The network, ``lib/models/deit.py: TSCAM``
(``deit_tscam_small_patch16_224``), subclasses its copy of timm's
``VisionTransformer`` (``lib/models/vision_transformer.py``) and keeps timm's
names: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.<i>.{norm1,
attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*``, ``norm.*`` — those of the
``deit_small`` backbone of the ``wsolkit-timm`` plugin. Its ``head`` is
``nn.Conv2d(embed_dim, num_classes, kernel_size=3, stride=1, padding=1)``: the
backbone's ``head.conv``. ``ts-cam`` and ``cam`` train this one network (``cam``
reads the class map alone).
"""

from __future__ import annotations

from wsolkit.checkpoints.layout import KEEP, Layout, SourceFormat
from wsolkit.checkpoints.rules import Rule

LAYOUTS = (
    Layout(
        backbone="deit_small",
        architecture="deit_tscam_small_patch16_224",
        methods=("ts-cam", "cam"),
        rules=(Rule("head.", "backbone.head.conv."), KEEP),
        classifier="head.weight",
        # A transformer has one feature-map size (its patch grid): deit_small refuses the flag.
        large_feature_map=None,
        reference="lib/models/deit.py: TSCAM (deit_tscam_small_patch16_224)",
    ),
)

TS_CAM = SourceFormat(
    name="ts-cam",
    repository="https://github.com/vasgaowei/TS-CAM",
    summary="TS-CAM's train_cam.py (ICCV 2021): DeiT-S with a 3×3-conv class-map head "
    "(wsolkit-timm's deit_small, ts-cam)",
    saved_by="tools_cam/train_cam.py: torch.save({'epoch', 'state_dict', 'best_map'})",
    container=("epoch", "state_dict", "best_map"),
    weights=(("state_dict", ""),),
    records=("epoch",),
    bare=True,
    layouts=LAYOUTS,
)
