"""``wsolkit prepare cub|imagenet|openimages|folder``."""

from __future__ import annotations
