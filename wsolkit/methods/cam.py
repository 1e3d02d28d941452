"""CAM (Zhou et al., CVPR 2016): a GAP classifier trained with cross-entropy only."""

from __future__ import annotations

from wsolkit.methods.base import WsolMethod


class CAM(WsolMethod):
    """Vanilla CAM: cross-entropy only; the CAM is the classifier applied at every position."""

    name = "cam"
    description = "Vanilla CAM (Zhou et al., CVPR 2016): cross-entropy only."
