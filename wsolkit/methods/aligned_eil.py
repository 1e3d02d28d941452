"""Aligned EIL — "Bridging the Gap between Classification and Localization for WSOL" (CVPR 2022).

Follows the paper's public code (bridging-gap ``wsol/vgg.py::VggDrop``,
``wsol/resnet.py::ResNetDrop``, ``wsol/method/drop.py``,
``trainer.py::_get_loss_alignment``) term by term (SPEC.md §4):

- the network is split at the backbone's split point; F_u = f1(x);
- the unerased path gives F = f2(F_u) and the logits; the erased path gives
  F_e' = f2(attentive_drop(F_u)) through the same f2 (BatchNorm statistics
  are updated twice, unerased first) and has no logits;
- total = CE + λ_drop·L1(F, F_e') [+ λ_sim·L_sim + λ_norm·L_norm once the
  0-indexed epoch ≥ warm_epochs]; sim is computed inside ``forward`` because
  it touches the classifier weight (DistributedDataParallel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from wsolkit.backbones.base import Backbone
from wsolkit.functional.alignment import (
    cosine_similarity_map,
    drop_consistency_loss,
    feature_alignment_loss_from_similarity,
)
from wsolkit.methods.base import MethodParams, Targets, WsolMethod, classification_loss
from wsolkit.methods.eil import SplitModel
from wsolkit.methods.layers import AttentiveDrop
from wsolkit.methods.model import WsolModel


class AlignedEILParams(MethodParams):
    """Aligned-EIL hyperparameters; defaults are the published CUB / VGG16 values."""

    lambda_sim: float = Field(0.5, ge=0.0, le=100.0, description="Weight of L_sim.")
    fg_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="L_sim foreground: normalized feature norm > this."
    )
    bg_threshold: float = Field(
        0.1, ge=0.0, le=1.0, description="L_sim background: normalized feature norm < this."
    )
    lambda_norm: float = Field(0.15, ge=0.0, le=100.0, description="Weight of L_norm.")
    norm_region: Literal["max", "target"] = Field(
        "max",
        description="L_norm regions from the max-over-classes similarity (CUB) or the "
        "target-class similarity (ImageNet).",
    )
    lambda_drop: float = Field(
        3.0, ge=0.0, le=100.0, description="Weight of L_drop = L1(F, F_e'), on from the start."
    )
    drop_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Attentive drop: candidates have channel mean > this·max."
    )
    drop_prob: float = Field(
        0.5, ge=0.0, le=1.0, description="Attentive drop: probability a candidate is dropped."
    )
    split_after: str | None = Field(
        None,
        description="Stage after which f1 ends; empty: the backbone's split point "
        "(VGG16: block4, ResNet50: layer4.0).",
    )


# SPEC.md §4's table: the published values where they differ from the VGG16 defaults.
PUBLISHED: dict[str, dict[str, float | str]] = {
    "vgg16": {},
    "resnet50": {
        "fg_threshold": 0.4,
        "bg_threshold": 0.2,
        "lambda_norm": 0.05,
        "lambda_drop": 2.0,
        "drop_prob": 0.25,
    },
}


class AlignedEILModel(SplitModel):
    """Training: unerased path (logits, F, similarity) and attentively dropped path (F_e')."""

    def __init__(
        self, backbone: Backbone, split: str, drop: AttentiveDrop, with_similarity: bool
    ) -> None:
        super().__init__(backbone, split)
        self.drop = drop
        self.with_similarity = with_similarity

    def forward_train(self, images: Tensor) -> dict[str, Tensor]:
        """``{"logits", "features", "features_erased"[, "similarity"]}``."""
        unerased = self.f1(images)
        features = self.f2(unerased)
        outputs = {"logits": self.backbone.head(features), "features": features}
        outputs["features_erased"] = self.f2(self.drop(unerased))
        if self.with_similarity:
            weights = self.backbone.head.class_weights
            assert weights is not None  # the method requires a linear head
            # float32 with autocast off (a no-op in float32 training): the alignment terms
            # threshold the normalized norm and the sign of the cosine, which bf16 would move
            with torch.autocast(features.device.type, enabled=False):
                outputs["similarity"] = cosine_similarity_map(features.float(), weights.float())
        return outputs


class AlignedEIL(WsolMethod):
    """Aligned EIL (bridging-gap, CVPR 2022): attentive drop + feature–class-weight alignment."""

    name = "aligned-eil"
    description = (
        "Aligned EIL (Kim et al., CVPR 2022, 'bridging-gap'): attentive drop at a split, "
        "L1 drop consistency, feature direction/norm alignment with the class weight."
    )
    requires = frozenset({"split_point", "linear_head"})
    Params = AlignedEILParams
    params: AlignedEILParams

    @classmethod
    def published(cls, backbone: str) -> AlignedEILParams:
        """The published CUB hyperparameters for ``backbone`` ("vgg16" or "resnet50")."""
        if backbone not in PUBLISHED:
            raise KeyError(f"no published aligned-EIL values for '{backbone}'")
        return AlignedEILParams(**PUBLISHED[backbone])

    def make_model(self, backbone: Backbone) -> WsolModel:
        """An :class:`AlignedEILModel`; the similarity is skipped when λ_sim = λ_norm = 0."""
        p = self.params
        split = self.split_point(backbone)
        assert split is not None  # check() guarantees it
        drop = AttentiveDrop(p.drop_threshold, p.drop_prob)
        with_similarity = p.lambda_sim > 0 or p.lambda_norm > 0
        return AlignedEILModel(backbone, split, drop, with_similarity)

    def losses(
        self,
        outputs: Mapping[str, Tensor],
        targets: Targets,
        *,
        epoch: int = 0,
        warm_epochs: int = 0,
    ) -> dict[str, Tensor]:
        """``ce``, ``drop``, ``sim``, ``norm`` (unweighted) and their weighted ``total``.

        ``sim`` and ``norm`` are reported during warm-up too but enter ``total``
        only once ``epoch >= warm_epochs`` (``epoch`` 0-indexed).
        """
        p = self.params
        ce = classification_loss(outputs["logits"], targets)
        drop = drop_consistency_loss(outputs["features"], outputs["features_erased"])
        total = ce + p.lambda_drop * drop
        terms = {"ce": ce, "drop": drop}
        if "similarity" in outputs:
            loss_sim, loss_norm = feature_alignment_loss_from_similarity(
                outputs["features"],
                outputs["similarity"],
                targets.labels,
                p.fg_threshold,
                p.bg_threshold,
                p.norm_region,
            )
            terms.update(sim=loss_sim, norm=loss_norm)
            if epoch >= warm_epochs:
                total = total + (p.lambda_sim * loss_sim + p.lambda_norm * loss_norm)
        return {"total": total, **terms}
