"""One place for the settings of the tiny CPU runs that end-to-end tests train.

``tiny_overrides(data, out, name)`` gives ``wsolkit.engine.api.train`` a one-epoch CAM run
of the ``tiny`` network from scratch on a synthetic dataset; ``extra`` changes or adds keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_overrides(data: Path, out: Path, name: str = "r", **extra: Any) -> dict[str, Any]:
    """Overrides of a fast, deterministic CPU run (``data.root`` = ``data``, run ``out/name``)."""
    base: dict[str, Any] = {
        "data.root": data,
        "model.backbone": "tiny",
        "model.weights": "none",
        "method.name": "cam",
        "optim.epochs": 1,
        "optim.warm_epochs": 0,
        "optim.batch_size": 8,
        "eval.cam_curve_interval": 0.05,
        "runtime.device": "cpu",
        "runtime.workers": 0,
        "runtime.out_dir": out,
        "runtime.run_name": name,
    }
    base.update(extra)
    return base
