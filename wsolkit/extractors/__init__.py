"""Score-map extractors: post-hoc maps from a trained model (CAM, the Grad-CAM family, BagCAMs).

Built-ins (``cam``, ``grad-cam``, ``grad-cam++``, ``xgrad-cam``, ``layer-cam``,
``score-cam``, ``eigen-cam``, ``bagcams``) are registered under the
``wsolkit.extractors`` entry-point group like any plugin; the interface is
:class:`~wsolkit.extractors.base.ScoreMapExtractor` and the math lives in
:mod:`wsolkit.functional.posthoc`.
"""

from __future__ import annotations

from wsolkit.extractors.base import ExtractorParams, ScoreMapExtractor, StageError

__all__ = ["ExtractorParams", "ScoreMapExtractor", "StageError"]
