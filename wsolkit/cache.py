"""Where wsolkit keeps what it can rebuild: the embedded dataset, the plugin descriptions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "WSOLKIT_CACHE"


def default_cache_dir() -> Path:
    """``$WSOLKIT_CACHE``, else the user's cache folder (e.g. ``~/.cache/wsolkit`` on Linux)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "wsolkit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wsolkit"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / "wsolkit"
