"""SPG (Zhang et al., ECCV 2018): self-produced guidance from the network's own attention.

Follows wsolevaluation (``wsol/method/spg.py``; ``VggSpg``, ``ResNetSpg``,
``InceptionSpg``), with the layers placed by the backbone's
:meth:`~wsolkit.backbones.base.Backbone.spg_layout`:

- main branch (SPG-A): the trunk, the layout's ``main`` convolutions (VGG16), dropout
  (InceptionV3) and a 1×1 convolution to K class maps; logits = their GAP; the CAM of
  class y is its class map (bias included);
- SPG-B1 / SPG-B2: 3×3 conv + ReLU on two intermediate feature maps, then a shared
  3×3 conv + ReLU and 1×1 conv to one map each;
- SPG-C: 3×3 conv + ReLU and 1×1 conv to one map, on the class-map convolution's input;
- loss = CE + BCE(B2 ← class attention) + BCE(B1 ← sigmoid B2) + BCE(C ← fused B1, B2),
  every map upsampled to the input size, the masks from
  :func:`~wsolkit.functional.spg_guidance_mask` with ``spg_threshold_{1,2,3}{h,l}``.

The class attention uses ``targets.labels`` (the ground truth) in ``losses``; the
model's forward needs no labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone, GroupRecipe, ParameterGroups, initialize_weights
from wsolkit.backbones.heads import Head
from wsolkit.backbones.variants import SpgLayout
from wsolkit.functional.spg import spg_losses, upsample_maps
from wsolkit.methods.acol import adapt_trunk
from wsolkit.methods.base import (
    REQUIREMENTS,
    IncompatibleBackboneError,
    MethodParams,
    Targets,
    WsolMethod,
    classification_loss,
)
from wsolkit.methods.model import WsolModel


def _conv_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU()]


def _gap(maps: Tensor) -> Tensor:
    return F.adaptive_avg_pool2d(maps, 1).flatten(1)


class SpgHead(Head):
    """SPG's layers after the trunk: ``main``, the class-map conv, SPG-B1/B2 and SPG-C."""

    kind = "spg"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        b1_channels: int,
        b2_channels: int,
        layout: SpgLayout,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        main: list[nn.Module] = []
        for width in layout.main:
            main += _conv_relu(in_channels, width)
            in_channels = width
        self.main = nn.Sequential(*main)
        self.dropout: nn.Module = nn.Dropout(layout.dropout) if layout.dropout else nn.Identity()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        width = layout.b_width
        self.branch_b1 = nn.Sequential(*_conv_relu(b1_channels, width))
        self.branch_b2 = nn.Sequential(*_conv_relu(b2_channels, width))
        self.branch_b_shared = nn.Sequential(*_conv_relu(width, width), nn.Conv2d(width, 1, 1))
        self.branch_c = nn.Sequential(
            *_conv_relu(in_channels, layout.c_width), nn.Conv2d(layout.c_width, 1, 1)
        )

    def maps(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """``(class maps B×K×H×W, the class-map conv's input)`` of the main branch."""
        x = self.dropout(self.main(features))
        return self.conv(x), x

    def forward(self, features: Tensor) -> Tensor:
        """B×C×H×W -> B×K logits: GAP of the class maps."""
        return _gap(self.maps(features)[0])

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """B×k×H×W: the class maps of ``classes`` (B×k)."""
        maps = self.maps(features.to(self.conv.weight.dtype))[0]
        return maps.gather(1, classes[:, :, None, None].expand(-1, -1, *maps.shape[-2:]))


class SpgModel(WsolModel):
    """The trunk with SPG-B1/B2 reading two of its feature maps, and :class:`SpgHead`."""

    def __init__(self, backbone: Backbone, layout: SpgLayout) -> None:
        super().__init__(backbone)
        self.layout = layout

    def forward_train(self, images: Tensor) -> dict[str, Tensor]:
        """``logits``, ``features``, ``class_maps`` and the SPG-B1/B2/C logits at input size."""
        bb, lay = self.backbone, self.layout
        x = bb.forward_stages(images, through=lay.b1_after)
        b1 = bb.get_submodule(lay.b1_through)(x) if lay.b1_through else x
        x = bb.forward_stages(x, after=lay.b1_after, through=lay.b2_after)
        b2 = x
        features = bb.forward_stages(x, after=lay.b2_after)
        head: SpgHead = bb.head  # type: ignore[assignment]
        maps, x = head.maps(features)
        size = images.shape[-2:]
        return {
            "logits": _gap(maps),
            "features": features,
            "class_maps": maps,
            "logits_b1": upsample_maps(head.branch_b_shared(head.branch_b1(b1)), size),
            "logits_b2": upsample_maps(head.branch_b_shared(head.branch_b2(b2)), size),
            "logits_c": upsample_maps(head.branch_c(x), size),
        }

    def parameter_groups(self, recipe: GroupRecipe = "bridging-gap") -> ParameterGroups:
        """The backbone's groups; under ``wsolevaluation`` the layout's ``wsolevaluation_new``
        (VGG16: conv4_x, conv5_x) move to the new group, as wsolevaluation trains them.
        """
        groups = super().parameter_groups(recipe)
        moved = tuple(f"backbone.{p}" for p in self.layout.wsolevaluation_new)
        if recipe != "wsolevaluation" or not moved:
            return groups
        new = {n for n, _ in groups.new} | {n for n, _ in groups.pretrained if n.startswith(moved)}
        named = list(self.named_parameters())
        return ParameterGroups(
            pretrained=[(n, p) for n, p in named if n not in new],
            new=[(n, p) for n, p in named if n in new],
        )


def _check_pair(value: float, info: ValidationInfo) -> float:
    """A background threshold ``…l`` may not exceed its foreground threshold ``…h``."""
    high_name = info.field_name[:-1] + "h"  # type: ignore[index]
    high = info.data.get(high_name)
    if high is not None and value > high:
        raise ValueError(f"must not exceed {high_name} = {high}")
    return value


def _threshold(default: float, what: str) -> Any:
    # validate_default: a background threshold is checked against a foreground one set alone.
    return Field(default, ge=0.0, le=1.0, description=what, validate_default=True)


class SpgParams(MethodParams):
    """SPG's mask thresholds (wsolevaluation's names and defaults): 1 = SPG-B2's mask from
    the class attention, 2 = SPG-B1's from sigmoid(B2), 3 = SPG-C's from the fused B1, B2.
    """

    spg_threshold_1h: float = _threshold(0.7, "SPG-B2 mask: object where the attention > this.")
    spg_threshold_1l: float = _threshold(0.01, "SPG-B2 mask: background where < this.")
    spg_threshold_2h: float = _threshold(0.5, "SPG-B1 mask: object where sigmoid(B2) > this.")
    spg_threshold_2l: float = _threshold(0.05, "SPG-B1 mask: background where < this.")
    spg_threshold_3h: float = _threshold(0.7, "SPG-C mask: object where fused B1, B2 > this.")
    spg_threshold_3l: float = _threshold(0.1, "SPG-C mask: background where < this.")

    _pairs = field_validator("spg_threshold_1l", "spg_threshold_2l", "spg_threshold_3l")(
        _check_pair
    )

    def thresholds(self) -> tuple[tuple[float, float], ...]:
        """``((1h, 1l), (2h, 2l), (3h, 3l))``."""
        return (
            (self.spg_threshold_1h, self.spg_threshold_1l),
            (self.spg_threshold_2h, self.spg_threshold_2l),
            (self.spg_threshold_3h, self.spg_threshold_3l),
        )


class SPG(WsolMethod):
    """SPG: auxiliary branches trained on masks produced from the network's own attention."""

    name = "spg"
    description = (
        "SPG (Zhang et al., ECCV 2018): self-produced guidance masks from the class attention "
        "train two intermediate branches and a final one; CE + three BCE terms."
    )
    requires = frozenset({"split_point"})
    Params = SpgParams
    params: SpgParams

    def check(self, backbone: Backbone) -> None:
        """The backbone needs a split point and an SPG layout (derived from it by default)."""
        name, names = backbone.display_name(), backbone.stage_names
        layout = backbone.spg_layout() if backbone.split_point in names[:-1] else None
        if layout is None:
            raise IncompatibleBackboneError(
                f"method 'spg' needs {REQUIREMENTS['split_point']} and an SPG layout to place "
                f"its SPG-B branches; backbone '{name}' declares "
                f"{'no split point' if backbone.split_point is None else 'no SPG layout'} "
                "(see docs/backbone-interface.md, 'ACoL and SPG')."
            )
        end = layout.trunk_end or names[-1]
        taps = [layout.b1_after, layout.b2_after, end]
        if any(t not in names for t in taps) or [names.index(t) for t in taps] != sorted(
            names.index(t) for t in taps
        ):
            raise IncompatibleBackboneError(
                f"backbone '{name}' declares an SPG layout whose stages {taps} are not stages "
                f"in order among {', '.join(names)}."
            )

    def make_model(self, backbone: Backbone) -> WsolModel:
        """Replace the head (and, on VGG16, conv6) by :class:`SpgHead`."""
        layout = backbone.spg_layout()
        assert layout is not None  # check() guarantees it
        adapt_trunk(backbone, layout.max_pools, layout.init_mode)
        end = layout.trunk_end or backbone.stage_names[-1]
        head = SpgHead(
            backbone.stage_info(end).channels,
            backbone.num_classes,
            b1_channels=backbone.stage_info(layout.b1_after).channels,
            b2_channels=backbone.stage_info(layout.b2_after).channels,
            layout=layout,
        )
        initialize_weights(head.modules(), layout.init_mode)
        backbone.truncate(end, head)
        return SpgModel(backbone, layout)

    def losses(
        self,
        outputs: Mapping[str, Tensor],
        targets: Targets,
        *,
        epoch: int = 0,
        warm_epochs: int = 0,
    ) -> dict[str, Tensor]:
        """``ce``, ``spg_b2``, ``spg_b1``, ``spg_c`` and their unweighted sum ``total``."""
        ce = classification_loss(outputs["logits"], targets)
        guidance = spg_losses(
            outputs["class_maps"],
            outputs["logits_b1"],
            outputs["logits_b2"],
            outputs["logits_c"],
            targets.labels,
            self.params.thresholds(),
        )
        total = ce + guidance["spg_b2"] + guidance["spg_b1"] + guidance["spg_c"]
        return {"total": total, "ce": ce, **guidance}
