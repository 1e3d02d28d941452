"""The math of WSOL methods as pure functions on tensors (like ``torch.nn.functional``).

Usable from anyone's training code; every function documents its shapes and
formula (:mod:`~wsolkit.functional.posthoc` holds the post-hoc score maps: the Grad-CAM
family and BagCAMs). The names in SPEC.md §5 (``feature_alignment_loss``,
``attentive_drop``, ``class_activation_map``) are a stable API.
"""

from __future__ import annotations

from wsolkit.functional.acol import acol_cam, acol_erase, acol_erasing_mask
from wsolkit.functional.adl import adl_drop_mask, adl_importance_map, attention_based_dropout
from wsolkit.functional.alignment import (
    NORM_REGIONS,
    cosine_similarity_map,
    drop_consistency_loss,
    feature_alignment_loss,
    feature_alignment_loss_from_similarity,
    masked_mean,
    minmax_normalize,
)
from wsolkit.functional.attention import class_attention, normalize_maps, select_maps
from wsolkit.functional.augment import (
    cutmix,
    cutmix_box,
    hide_and_seek,
    hide_and_seek_mask,
    mixed_cross_entropy,
    sample_beta,
)
from wsolkit.functional.cam import class_activation_map
from wsolkit.functional.erasing import (
    attentive_drop,
    attentive_drop_mask,
    discriminative_region,
    eil_erase,
    eil_erasing_mask,
)
from wsolkit.functional.posthoc import (
    bagcams,
    eigen_cam,
    grad_cam,
    grad_cam_plus_plus,
    layer_cam,
    principal_projection,
    score_cam,
    score_cam_masks,
    upsample_minmax,
    xgrad_cam,
)
from wsolkit.functional.spg import (
    spg_guidance_mask,
    spg_losses,
    spg_mask_loss,
    upsample_maps,
)

__all__ = [
    "NORM_REGIONS",
    "acol_cam",
    "acol_erase",
    "acol_erasing_mask",
    "adl_drop_mask",
    "adl_importance_map",
    "attention_based_dropout",
    "attentive_drop",
    "attentive_drop_mask",
    "bagcams",
    "class_activation_map",
    "class_attention",
    "cosine_similarity_map",
    "cutmix",
    "cutmix_box",
    "discriminative_region",
    "drop_consistency_loss",
    "eigen_cam",
    "eil_erase",
    "eil_erasing_mask",
    "feature_alignment_loss",
    "feature_alignment_loss_from_similarity",
    "grad_cam",
    "grad_cam_plus_plus",
    "hide_and_seek",
    "hide_and_seek_mask",
    "layer_cam",
    "masked_mean",
    "minmax_normalize",
    "mixed_cross_entropy",
    "normalize_maps",
    "principal_projection",
    "sample_beta",
    "score_cam",
    "score_cam_masks",
    "select_maps",
    "spg_guidance_mask",
    "spg_losses",
    "spg_mask_loss",
    "upsample_maps",
    "upsample_minmax",
    "xgrad_cam",
]
