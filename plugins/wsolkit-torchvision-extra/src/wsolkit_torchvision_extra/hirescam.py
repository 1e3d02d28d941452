"""HiResCAM as a wsolkit score-map extractor: Grad-CAM without the pooling of the gradients.

A third-party extractor in full: the Grad-CAM machinery of
:class:`wsolkit.extractors.gradients.GradientExtractor` (the two halves of the network
around the stage, one ``torch.autograd.grad`` per class, nothing on the parameters'
``.grad``) with this package's formula, registered under the entry-point group
``wsolkit.extractors``::

    wsolkit export-cams runs/my-run --extractor hirescam --stage layer4.2
"""

from __future__ import annotations

from wsolkit.extractors.gradients import GradientExtractor

from wsolkit_torchvision_extra.functional import hires_cam


class HiResCAM(GradientExtractor):
    """HiResCAM: every position weighted by its own gradient, ReLU(Σ_k G_k ⊙ A_k)."""

    name = "hirescam"
    description = (
        "HiResCAM (Draelos & Carin, 2020): ReLU(Σ_k ∂y/∂A_k ⊙ A_k), the gradients not pooled; "
        "one backward pass per class (wsolkit-torchvision-extra)."
    )
    formula = staticmethod(hires_cam)
