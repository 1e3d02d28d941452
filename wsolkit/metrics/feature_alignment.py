"""Feature norm and alignment with the class weight, per region: the diagnostic of Fig. 1 of
"Bridging the Gap between Classification and Localization for WSOL" (Kim et al., CVPR 2022).

A CAM is ``Σ_c w_yc F_c = ‖F‖ ‖w_y‖ cos(F, w_y)`` at every cell, so a region is cold
either because its features are weak (small norm) or because they point away from
the class weight (small cosine). The paper's premise is that under a plain CAM the
object's less discriminative regions have a large norm but a small cosine, and that
aligned EIL raises their cosine.

For each image the final feature map F (C×h×w) is split into regions given as
per-cell weights in [0, 1] (the share of the cell that the region covers, so a cell
on a region's border counts in part). Per region, over all images:

- ``norm``: the mean of ‖F‖ at a cell divided by the largest ‖F‖ of its image
  (in [0, 1]; comparable across networks whose feature scales differ);
- ``cosine``: the mean of cos(F, w_y) over the cells whose feature is not zero
  (a cell with F = 0, common after a ReLU, has no direction).

Both are means weighted by the region weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as nnf


@dataclass
class RegionAlignment:
    """Running sums per region; :meth:`result` gives the weighted means."""

    regions: tuple[str, ...]
    _norm: dict[str, float] = field(default_factory=dict)
    _norm_weight: dict[str, float] = field(default_factory=dict)
    _cos: dict[str, float] = field(default_factory=dict)
    _cos_weight: dict[str, float] = field(default_factory=dict)

    def update(
        self, features: Tensor, class_weights: Tensor, labels: Tensor, regions: Tensor
    ) -> None:
        """Add a batch.

        Args:
            features: B×C×h×w final feature maps.
            class_weights: K×C linear class weights.
            labels: B class indices (the class whose weight each image is compared with).
            regions: B×R×h×w per-cell weights, one channel per name of :attr:`regions`.
        """
        features = features.detach().double()
        norm = features.norm(dim=1)  # B×h×w
        peak = norm.flatten(1).amax(dim=1).clamp_min(torch.finfo(torch.float64).tiny)
        relative = norm / peak[:, None, None]
        weight = class_weights.detach().double()[labels]  # B×C
        dot = torch.einsum("bchw,bc->bhw", features, weight)
        nonzero = norm > 0
        cosine = torch.where(
            nonzero, dot / (norm.clamp_min(1e-300) * weight.norm(dim=1)[:, None, None]), 0.0
        )
        regions = regions.double()
        for index, name in enumerate(self.regions):
            w = regions[:, index]
            self._norm[name] = self._norm.get(name, 0.0) + float((w * relative).sum())
            self._norm_weight[name] = self._norm_weight.get(name, 0.0) + float(w.sum())
            wc = w * nonzero
            self._cos[name] = self._cos.get(name, 0.0) + float((wc * cosine).sum())
            self._cos_weight[name] = self._cos_weight.get(name, 0.0) + float(wc.sum())

    def result(self) -> dict[str, dict[str, float]]:
        """``{region: {"norm": …, "cosine": …}}`` (NaN for a region with no weight)."""

        def mean(total: dict[str, float], weight: dict[str, float], name: str) -> float:
            w = weight.get(name, 0.0)
            return total[name] / w if w > 0 else float("nan")

        return {
            name: {
                "norm": mean(self._norm, self._norm_weight, name),
                "cosine": mean(self._cos, self._cos_weight, name),
            }
            for name in self.regions
        }


def cell_weights(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """B×R×H×W boolean masks → B×R×h×w shares of each feature cell that each mask covers.

    The image is split into h×w equal cells (adaptive average pooling), as the
    feature map's cells tile it when H and W are multiples of h and w.
    """
    return nnf.adaptive_avg_pool2d(masks.double(), size)


def head_body_background(object_mask: Tensor, part_mask: Tensor) -> Tensor:
    """B×H×W boolean object and part masks → B×3×H×W masks: head, body (object − head),
    background (not object)."""
    head = part_mask & object_mask
    body = object_mask & ~part_mask
    return torch.stack([head, body, ~object_mask], dim=1)


REGIONS = ("head", "body", "background")
