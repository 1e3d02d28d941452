"""``wsolkit prepare synthetic``."""

from __future__ import annotations
