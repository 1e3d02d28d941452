"""DeiT-S (Touvron et al., ICML 2021) as TS-CAM uses it: timm's ``deit_small_patch16_224``.

384 channels, 12 blocks of 6 heads, 16×16 patches: F = 384×14×14 at 224 px. TS-CAM
builds the same network (``deit_tscam_small_patch16_224``: ``patch_size=16,
embed_dim=384, depth=12, num_heads=6, mlp_ratio=4, qkv_bias=True``, LayerNorm eps
1e-6, exact GELU) and trains it with stochastic depth 0.1 (its ``--drop-path``
default): ``model.drop_path_rate``.
"""

from __future__ import annotations

from wsolkit_timm.vit import VisionTransformerBackbone


class DeiTSmall(VisionTransformerBackbone):
    """DeiT-S/16: patch embedding, 12 blocks, final norm; F = 384×14×14; TS-CAM's head."""

    name = "deit_small"
    description = (
        "DeiT-S/16 (timm deit_small_patch16_224): 12 transformer blocks, patch tokens as a "
        "384×14×14 map, 3×3-conv class-map head (TS-CAM); no large feature map."
    )
    timm_name = "deit_small_patch16_224"
    embed_dim = 384
    depth = 12
    num_heads = 6
    patch_size = 16
    img_size = 224
    # facebookresearch/deit's release, the file TS-CAM starts from: {'model': state_dict}.
    imagenet_url = "https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth"
