"""TS-CAM (Gao et al., ICCV 2021): token semantic coupled attention maps.

Paper to code (vasgaowei/TS-CAM, ``lib/models/deit.py``: ``TSCAM``):

- training: cross-entropy on the logits, the global average of the class maps
  (``x_logits = self.avgpool(self.head(x_patch))``; ``tools_cam/train_cam.py``:
  ``CrossEntropyLoss``) — wsolkit's default loss on the backbone's 3×3-conv head;
- CAM (``TSCAM.forward`` in eval mode): the attention of the class token to the
  patch tokens, averaged over heads and summed over the 12 blocks, times each class
  map (``cams = attn_weights.sum(0)[:, 0, 1:].reshape([n, h, w]).unsqueeze(1) *
  feature_map``), where the attention is after the softmax and before attention
  dropout and the class map is the head's output with its bias and no ReLU
  (:func:`wsolkit_timm.functional.ts_cam`). Logits, attention, class maps and the
  top-k classes all come from one forward pass.

Their evaluation then resizes each map bilinearly to 224 and min-max normalizes it;
wsolkit's evaluator resizes it bicubically (see docs/transformers.md).
"""

from __future__ import annotations

import torch
from torch import Tensor
from wsolkit.backbones import Backbone
from wsolkit.methods import CamResult, IncompatibleBackboneError, WsolMethod, WsolModel

from wsolkit_timm.functional import ts_cam


class TsCamModel(WsolModel):
    """A transformer backbone whose CAMs couple its class-token attention with its class maps."""

    def cams(self, images: Tensor, classes: Tensor | None = None, *, topk: int = 1) -> CamResult:
        """One forward pass: logits and the TS-CAM maps of ``classes`` (default: top-``topk``).

        ``classes`` is B or B×k. The maps are B×k×h×w at the patch grid, raw (the
        evaluator resizes and normalizes them), computed with autocast off in float32
        (float64 for a float64 model).
        """
        with self.backbone.recorded_attention() as attentions:
            logits, features = self.infer(images)
        depth = len(self.backbone.blocks)
        if len(attentions) != depth:
            raise RuntimeError(
                f"recorded {len(attentions)} attention maps for {depth} blocks in one pass"
            )
        if classes is None:
            index = logits.topk(topk, dim=1).indices
        else:
            index = classes.view(classes.shape[0], -1).to(logits.device)
        # Full precision whatever the forward pass's: float32, float64 for a float64 model.
        dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
        with torch.autocast(features.device.type, enabled=False):
            class_maps = self.backbone.head.class_maps(features.to(dtype), index)
            maps = ts_cam(torch.stack(attentions).to(dtype), class_maps)
        return CamResult(logits, maps, index)


class TsCam(WsolMethod):
    """TS-CAM: cross-entropy on the class maps' GAP; CAM = class-token attention ⊙ class map."""

    name = "ts-cam"
    description = (
        "TS-CAM (Gao et al., ICCV 2021): cross-entropy; CAM = class-token attention summed "
        "over the blocks ⊙ the 3×3-conv class map; vision transformers (deit_small)."
    )

    def check(self, backbone: Backbone) -> None:
        """Refuse a backbone without readable attention maps (every CNN)."""
        super().check(backbone)
        if not callable(getattr(backbone, "recorded_attention", None)):
            raise IncompatibleBackboneError(
                f"method '{self.name}' needs a vision transformer whose attention it can read; "
                f"backbone '{backbone.display_name()}' has none: use deit_small "
                "(`pip install wsolkit-timm`), or method cam on this backbone."
            )

    def make_model(self, backbone: Backbone) -> WsolModel:
        """:class:`TsCamModel`: training is the plain forward pass; only the CAMs differ."""
        return TsCamModel(backbone)
