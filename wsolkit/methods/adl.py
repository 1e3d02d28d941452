"""ADL (Choe & Shim, CVPR 2019): attention-based dropout layers after chosen stages."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone
from wsolkit.methods.base import IncompatibleBackboneError, MethodParams, WsolMethod
from wsolkit.methods.layers import ADLayer
from wsolkit.methods.model import WsolModel


class ADLParams(MethodParams):
    """ADL hyperparameters (defaults: the paper and wsolevaluation)."""

    drop_rate: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Probability of using the drop mask instead of the "
        "importance map (one draw per layer and forward, for the whole batch).",
    )
    gamma: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Drop threshold γ: positions with attention ≥ "
        "γ·max are dropped by the drop mask.",
    )
    positions: tuple[str, ...] | None = Field(
        None,
        description="Stages after which ADL sits; empty: the backbone's ADL positions "
        "(VGG16: block3, block4, block5; ResNet50: layer3.0, layer4.0, layer4.2).",
    )


class ADLModel(WsolModel):
    """The backbone's stages with an ADL layer after each chosen stage (identity in eval)."""

    def __init__(
        self, backbone: Backbone, positions: tuple[str, ...], drop_rate: float, gamma: float
    ):
        super().__init__(backbone)
        self.positions = positions
        self.adl = nn.ModuleList(ADLayer(drop_rate, gamma) for _ in positions)

    def forward_features(self, images: Tensor) -> Tensor:
        """Run every stage, applying the ADL layer that follows it, if any."""
        x = images
        layers = dict(zip(self.positions, self.adl, strict=True))
        for name in self.backbone.stage_names:
            x = self.backbone.stage(name)(x)
            if name in layers:
                x = layers[name](x)
        return x


class ADL(WsolMethod):
    """ADL: after chosen stages, multiply by sigmoid(attention) or a drop mask; cross-entropy."""

    name = "adl"
    description = "ADL (CVPR 2019): attention-based dropout layers after chosen stages; CE."
    requires = frozenset({"adl_positions"})
    Params = ADLParams
    params: ADLParams

    def positions(self, backbone: Backbone) -> tuple[str, ...]:
        """``params.positions`` or the backbone's ADL positions."""
        return tuple(self.params.positions or backbone.adl_positions)

    def check(self, backbone: Backbone) -> None:
        """The positions must be stages of ``backbone`` (and there must be some)."""
        super().check(backbone)
        positions = self.positions(backbone)
        names = backbone.stage_names
        unknown = [p for p in positions if p not in names]
        if not positions or unknown:
            what = "declares no ADL positions" if not positions else f"has no stage {unknown[0]!r}"
            raise IncompatibleBackboneError(
                f"method 'adl' needs ADL positions; backbone '{backbone.display_name()}' {what}: "
                f"set method.positions to stages among {', '.join(names)}."
            )

    def make_model(self, backbone: Backbone) -> WsolModel:
        """Insert the ADL layers (and drop dropout where the reference ADL network has none)."""
        if backbone.adl_replaces_dropout:
            backbone.set_dropout(0.0)
        p = self.params
        return ADLModel(backbone, self.positions(backbone), p.drop_rate, p.gamma)
