"""wsolkit: weakly supervised object localization, from training to CAM evaluation.

The package is importable without torch: the heavy modules (backbones, methods,
engine) import it themselves, so ``wsolkit --help`` and ``wsolkit list`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
