"""EIL (Mai et al., CVPR 2020): erase the discriminative region at a split, train both paths."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field
from torch import Tensor

from wsolkit.backbones.base import Backbone
from wsolkit.functional.erasing import eil_erase
from wsolkit.methods.base import MethodParams, Targets, WsolMethod, classification_loss
from wsolkit.methods.model import WsolModel


class SplitModel(WsolModel):
    """A backbone split at stage ``split`` into f1 (up to and including it) and f2 (the rest)."""

    def __init__(self, backbone: Backbone, split: str) -> None:
        super().__init__(backbone)
        self.split = split

    def f1(self, images: Tensor) -> Tensor:
        """The stages up to and including the split: ``F_u``."""
        return self.backbone.forward_stages(images, through=self.split)

    def f2(self, features: Tensor) -> Tensor:
        """The stages after the split (shared by the unerased and erased paths)."""
        return self.backbone.forward_stages(features, after=self.split)


class EILModel(SplitModel):
    """Training: both the unerased and the EIL-erased features go through f2 and the head."""

    def __init__(self, backbone: Backbone, split: str, erase_threshold: float) -> None:
        super().__init__(backbone, split)
        self.erase_threshold = erase_threshold

    def forward_train(self, images: Tensor) -> dict[str, Tensor]:
        """``{"logits", "features", "logits_erased"}``; the unerased path runs first."""
        unerased = self.f1(images)
        features = self.f2(unerased)
        logits = self.backbone.head(features)
        erased = self.f2(eil_erase(unerased, self.erase_threshold))
        return {
            "logits": logits,
            "features": features,
            "logits_erased": self.backbone.head(erased),
        }


class EILParams(MethodParams):
    """EIL hyperparameters."""

    erase_threshold: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Erasing threshold γ: positions whose channel mean exceeds γ·max are erased.",
    )
    sigma: float = Field(
        1.0, ge=0.0, le=100.0, description="Weight σ of the erased path's cross-entropy."
    )
    split_after: str | None = Field(
        None,
        description="Stage after which f1 ends; empty: the backbone's split point "
        "(VGG16: block4, ResNet50: layer4.0).",
    )


class EIL(WsolMethod):
    """EIL: CE(unerased) + σ · CE(erased), the erased path sharing f2 and the head."""

    name = "eil"
    description = "EIL (CVPR 2020): erase the discriminative region at a split; CE on both paths."
    requires = frozenset({"split_point"})
    Params = EILParams
    params: EILParams

    def make_model(self, backbone: Backbone) -> WsolModel:
        """An :class:`EILModel` split at the method's split point."""
        split = self.split_point(backbone)
        assert split is not None  # check() guarantees it
        return EILModel(backbone, split, self.params.erase_threshold)

    def losses(
        self,
        outputs: Mapping[str, Tensor],
        targets: Targets,
        *,
        epoch: int = 0,
        warm_epochs: int = 0,
    ) -> dict[str, Tensor]:
        """``ce`` (unerased), ``ce_erased`` and ``total = ce + σ · ce_erased``."""
        ce = classification_loss(outputs["logits"], targets)
        ce_erased = classification_loss(outputs["logits_erased"], targets)
        return {"total": ce + self.params.sigma * ce_erased, "ce": ce, "ce_erased": ce_erased}
