"""ACoL (Zhang et al., CVPR 2018): two classifiers, the second on features erased by the first.

Follows wsolevaluation (``wsol/method/acol.py``; ``VggAcol``, ``ResNetAcol``,
``InceptionAcol``):

- the backbone's head and the stages after its trunk are replaced by two
  classifiers A and B, each 3×3 conv C→W + ReLU, 3×3 conv W→W + ReLU, 1×1 conv W→K
  (class maps; logits = their GAP); where they sit and the trunk details
  (VGG16's 3×3 pools and average pool) are the backbone's
  :meth:`~wsolkit.backbones.base.Backbone.acol_layout`;
- training: the attention of the target class from A's maps, min-max normalized;
  features where it is ≥ ``acol_threshold`` are zeroed before B;
  loss = CE(A) + CE(B);
- CAM of class y: ``max(normalize(A_y), normalize(B_y))``, B on the features erased
  for y (the class asked for, as wsolevaluation's ``return_cam`` path does).

The erasing needs the ground-truth labels inside ``forward``: call
``model(images, labels)`` (``takes_labels``); without labels the predicted class
is erased, as the reference does when it is given none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone, initialize_weights
from wsolkit.backbones.heads import Head
from wsolkit.backbones.variants import InitMode, MaxPool
from wsolkit.functional.acol import acol_cam, acol_erase
from wsolkit.functional.attention import class_attention
from wsolkit.methods.base import MethodParams, Targets, WsolMethod, classification_loss
from wsolkit.methods.model import WsolModel


def adapt_trunk(backbone: Backbone, max_pools: tuple[MaxPool, ...], init_mode: InitMode) -> None:
    """The published variant's trunk: its 3×3 max-pools, and its initialization if untrained.

    Each ``(path, stride)`` module becomes ``nn.MaxPool2d(3, stride, padding=1)``. A
    backbone built without weights is re-initialized with ``init_mode`` when that
    differs from its own, as the reference initializes every module of its network.
    """
    for path, stride in max_pools:
        backbone.set_submodule(path, nn.MaxPool2d(kernel_size=3, stride=stride, padding=1))
    if not backbone.loaded_keys and init_mode != backbone.init_mode:
        initialize_weights(backbone.modules(), init_mode)


def _gap(maps: Tensor) -> Tensor:
    return F.adaptive_avg_pool2d(maps, 1).flatten(1)


def _classifier(in_channels: int, width: int, num_classes: int) -> nn.Sequential:
    """3×3 conv + ReLU, 3×3 conv + ReLU, 1×1 conv to K class maps."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, num_classes, kernel_size=1),
    )


class AcolHead(Head):
    """ACoL's classifiers A and B over the trunk's output; logits and CAMs come from A and B."""

    kind = "acol"

    def __init__(
        self, in_channels: int, num_classes: int, width: int, threshold: float, pre_pool: bool
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.threshold = threshold
        smoothing = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.AvgPool2d(3, 1, 1))
        self.pre_pool: nn.Module = smoothing if pre_pool else nn.Identity()
        self.classifier_a = _classifier(in_channels, width, num_classes)
        self.classifier_b = _classifier(in_channels, width, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        """B×C×H×W -> B×K logits of classifier A."""
        return _gap(self.classifier_a(self.pre_pool(features)))

    def branches(self, features: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Both branches: ``maps_a``, ``logits``, ``maps_b``, ``logits_erased``.

        B reads the features erased where A's attention of ``labels`` (default: A's
        prediction) is ≥ the threshold.
        """
        x = self.pre_pool(features)
        maps_a = self.classifier_a(x)
        logits = _gap(maps_a)
        if labels is None:
            labels = logits.argmax(dim=1)
        erased = acol_erase(x, class_attention(maps_a, labels), self.threshold)
        maps_b = self.classifier_b(erased)
        return {"maps_a": maps_a, "logits": logits, "maps_b": maps_b, "logits_erased": _gap(maps_b)}

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """B×k×H×W: ``max(normalize(A_y), normalize(B_y))``, B erased for each class y."""
        x = self.pre_pool(features.to(self.classifier_a[0].weight.dtype))
        maps_a = self.classifier_a(x)
        cams = []
        for j in range(classes.shape[1]):
            labels = classes[:, j]
            erased = acol_erase(x, class_attention(maps_a, labels), self.threshold)
            maps_b = self.classifier_b(erased)
            cams.append(acol_cam(maps_a, maps_b, labels))
        return torch.stack(cams, dim=1)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class AcolModel(WsolModel):
    """The trunk and :class:`AcolHead`; training mode also runs classifier B."""

    takes_labels: ClassVar[bool] = True

    def forward_train(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """``{"logits", "features", "logits_erased"}`` (A's and B's logits)."""
        features = self.forward_features(images)
        out = self.backbone.head.branches(features, labels)
        erased = out["logits_erased"]
        return {"logits": out["logits"], "features": features, "logits_erased": erased}

    def forward(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Training: both classifiers, B erased for ``labels``; eval: ``{"logits", "features"}``."""
        if self.training:
            return self.forward_train(images, labels)
        return super().forward(images)


class AcolParams(MethodParams):
    """ACoL hyperparameters (wsolevaluation's name and default)."""

    acol_threshold: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="Erasing threshold: features where classifier A's normalized attention of "
        "the target class is ≥ this are zeroed before classifier B.",
    )


class ACoL(WsolMethod):
    """ACoL: classifier B learns from the features classifier A attends to least."""

    name = "acol"
    description = (
        "ACoL (Zhang et al., CVPR 2018): two classifiers, the second on features erased where "
        "the first attends; CE on both; CAM = max of both normalized maps."
    )
    Params = AcolParams
    params: AcolParams

    def make_model(self, backbone: Backbone) -> WsolModel:
        """Replace the head (and the stages after the trunk) by :class:`AcolHead`."""
        layout = backbone.acol_layout()
        adapt_trunk(backbone, layout.max_pools, layout.init_mode)
        channels = backbone.stage_info(layout.trunk_end).channels
        threshold = self.params.acol_threshold
        head = AcolHead(channels, backbone.num_classes, layout.width, threshold, layout.pre_pool)
        initialize_weights(head.modules(), layout.init_mode)
        backbone.truncate(layout.trunk_end, head)
        return AcolModel(backbone)

    def losses(
        self,
        outputs: Mapping[str, Tensor],
        targets: Targets,
        *,
        epoch: int = 0,
        warm_epochs: int = 0,
    ) -> dict[str, Tensor]:
        """``ce`` (classifier A), ``ce_erased`` (classifier B) and ``total = ce + ce_erased``."""
        ce = classification_loss(outputs["logits"], targets)
        ce_erased = classification_loss(outputs["logits_erased"], targets)
        return {"total": ce + ce_erased, "ce": ce, "ce_erased": ce_erased}
