"""wsolkit-torchvision-extra: more torchvision backbones and a HiResCAM extractor for wsolkit.

A separately installed plugin package: it registers, through the entry-point
groups ``wsolkit.backbones`` and ``wsolkit.extractors`` of its ``pyproject.toml``,

- ``mobilenet_v3_large`` (:class:`~wsolkit_torchvision_extra.mobilenet.MobileNetV3Large`),
- ``efficientnet_b0`` (:class:`~wsolkit_torchvision_extra.efficientnet.EfficientNetB0`),
- ``hirescam`` (:class:`~wsolkit_torchvision_extra.hirescam.HiResCAM`).

Nothing is imported here: wsolkit loads each class on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
