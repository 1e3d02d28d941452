"""wsolkit-timm: vision transformers from timm and TS-CAM for wsolkit.

A separately installed plugin package: it registers, through the entry-point
groups ``wsolkit.backbones`` and ``wsolkit.methods`` of its ``pyproject.toml``,

- ``deit_small`` (:class:`~wsolkit_timm.deit.DeiTSmall`), timm's DeiT-S/16 with
  TS-CAM's 3×3-conv class-map head;
- ``ts-cam`` (:class:`~wsolkit_timm.ts_cam.TsCam`), TS-CAM (ICCV 2021).

Nothing is imported here (timm takes over a second to import): wsolkit loads each
class on first use, and the backbone imports timm when it is built.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
