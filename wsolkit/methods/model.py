"""The ``nn.Module`` a method builds around a backbone: what the trainer wraps in DDP.

Every computation that touches parameters in a training step happens inside
``forward`` (DistributedDataParallel only sees those): ``forward(images)``
returns a dict of tensors. In training mode the method's model adds what its
losses need (erased-path features, cosine similarities, …); in eval mode
every model returns ``{"logits", "features"}`` from the plain (unerased) path.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from wsolkit.backbones.base import Backbone, GroupRecipe, ParameterGroups


class CamResult(NamedTuple):
    """Logits, raw CAMs and the classes they belong to, from one forward pass."""

    logits: Tensor  # B×K
    cams: Tensor  # B×k×h×w, at the feature map's resolution, not normalized
    classes: Tensor  # B×k class indices


class WsolModel(nn.Module):
    """A backbone plus a method's layers. Subclasses override ``forward_train``.

    Attributes:
        backbone: the :class:`~wsolkit.backbones.base.Backbone`.
        takes_labels: the training forward needs the ground-truth labels
            (``model(images, labels)``, e.g. ACoL erases the labelled class's region); the
            trainer then passes them.
    """

    takes_labels: ClassVar[bool] = False

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Draw the random numbers of ``forward`` (attentive drop, ADL) from ``generator``.

        ``None`` (the default) uses the global RNG, as the reference code does. An
        ADL layer needs a CPU generator; an attentive drop may use any device's.
        """
        for module in self.modules():
            if hasattr(module, "generator") and module is not self:
                module.generator = generator

    def forward_features(self, images: Tensor) -> Tensor:
        """The final feature map of the inference path (B×C×h×w)."""
        return self.backbone.forward_features(images)

    def infer(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits, features)`` of the inference path, in whatever mode the model is."""
        features = self.forward_features(images)
        return self.backbone.head(features), features

    def forward_train(self, images: Tensor) -> dict[str, Tensor]:
        """Training outputs; the default is the inference path."""
        logits, features = self.infer(images)
        return {"logits": logits, "features": features}

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Training mode: ``forward_train``; eval mode: ``{"logits", "features"}``."""
        if self.training:
            return self.forward_train(images)
        logits, features = self.infer(images)
        return {"logits": logits, "features": features}

    def class_maps(self, features: Tensor, classes: Tensor) -> Tensor:
        """Raw CAMs B×k×h×w of ``classes`` (B×k, or B for one class) from final features.

        Computed in float32 with autocast off, whatever the precision of the
        forward pass: the evaluator thresholds normalized CAMs at steps of 0.001,
        finer than bfloat16 resolves.
        """
        index = classes.view(classes.shape[0], -1)
        with torch.autocast(features.device.type, enabled=False):
            return self.backbone.head.class_maps(features.float(), index)

    def cams(self, images: Tensor, classes: Tensor | None = None, *, topk: int = 1) -> CamResult:
        """One forward pass: logits and the raw CAMs of ``classes`` (default: top-``topk``).

        ``classes`` is B (e.g. the ground truth) or B×k. Call in eval mode, under
        ``torch.inference_mode()``; the CAMs are at the feature-map resolution
        and not normalized (the evaluator resizes and min-max normalizes).
        """
        logits, features = self.infer(images)
        if classes is None:
            index = logits.topk(topk, dim=1).indices
        else:
            index = classes.view(classes.shape[0], -1).to(logits.device)
        return CamResult(logits, self.class_maps(features, index), index)

    def parameter_groups(self, recipe: GroupRecipe = "bridging-gap") -> ParameterGroups:
        """The backbone's pretrained/new split; parameters a method adds count as new."""
        inner = self.backbone.parameter_groups(recipe)
        owned = {id(p) for _, p in inner.pretrained + inner.new}
        groups = ParameterGroups(
            pretrained=[(f"backbone.{n}", p) for n, p in inner.pretrained],
            new=[(f"backbone.{n}", p) for n, p in inner.new],
        )
        for name, param in self.named_parameters():
            if id(param) not in owned:
                groups.new.append((name, param))
        return groups


def unwrap(model: nn.Module) -> WsolModel:
    """The :class:`WsolModel` inside a DistributedDataParallel / DataParallel wrapper."""
    inner = getattr(model, "module", model)
    if not isinstance(inner, WsolModel):
        raise TypeError(f"expected a WsolModel (from method.build), got {type(inner).__name__}")
    return inner
