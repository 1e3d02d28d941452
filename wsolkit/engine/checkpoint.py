"""Checkpoints: written atomically, carrying the settings and the wsolkit version.

A checkpoint is a ``torch.save`` dict::

    format            "wsolkit-checkpoint/1"
    wsolkit_version   version that wrote it
    settings          the fully resolved settings (plain dict)
    epoch             epochs completed (1-indexed count; 0 = before training)
    model             state_dict of the model (unwrapped from DDP)
    optimizer, scaler  training state (absent in weights-only exports)
    rng               RNG states of rank 0
    best              {"score", "epoch"} of the best validation so far
    dataset           {"num_classes", "class_names"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from wsolkit import __version__
from wsolkit.errors import DataError
from wsolkit.io import atomic_path

FORMAT = "wsolkit-checkpoint/1"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temp file, then rename: a crash never leaves a torn checkpoint."""
    payload = {"format": FORMAT, "wsolkit_version": __version__, **payload}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check the format; a foreign or newer file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise DataError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
            "it is truncated or not a torch file"
        ) from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise DataError(
            f"{path} is not a wsolkit checkpoint (no 'format' key); "
            "a torchvision state dict goes to --weights PATH instead"
        )
    if payload["format"] != FORMAT:
        raise DataError(
            f"checkpoint {path} has format '{payload['format']}', this wsolkit "
            f"({__version__}) reads '{FORMAT}'; upgrade wsolkit to read it"
        )
    return payload
