"""The checkpoint formats wsolkit imports, by ``--from`` name.

What the weights can and cannot tell about the network that produced them:

- the number of classes: always (the classifier's rows);
- ``large_feature_map``: only for VGG16, whose 28×28 variant drops pool4 from
  ``features`` and so renumbers conv5_1 … conv5_3; ResNet50 (a stride) and
  InceptionV3 (a max-pool) have the same weights either way, so the flag is
  trusted there (``Layout.large_feature_map is None``);
- the method: only where the reference inserts layers into a numbered
  ``Sequential`` (ADL in VGG16 and ResNet50) or renames blocks (bridging-gap's
  drop). CAM, HaS and CutMix share one network, and wsolevaluation's InceptionV3
  ADL has the same keys as its CAM (the two compute the same CAMs at inference,
  where ADL and dropout are the identity).
"""

from __future__ import annotations

from wsolkit.checkpoints.bridging_gap import BRIDGING_GAP
from wsolkit.checkpoints.da_wsol import DA_WSOL
from wsolkit.checkpoints.layout import Layout, SourceFormat
from wsolkit.checkpoints.ts_cam import TS_CAM
from wsolkit.checkpoints.wsolevaluation import WSOLEVALUATION

FORMATS: dict[str, SourceFormat] = {
    f.name: f for f in (WSOLEVALUATION, BRIDGING_GAP, DA_WSOL, TS_CAM)
}

__all__ = ["FORMATS", "Layout", "SourceFormat"]
