"""Checkpoints: written atomically, carrying the settings and the wsolkit version.

A checkpoint is a ``torch.save`` dict of tensors and plain data only::

    format            "wsolkit-checkpoint/1"
    wsolkit_version   version that wrote it
    settings          the fully resolved settings (plain dict)
    epoch             epochs completed (1-indexed count; 0 = before training)
    model             state_dict of the model (unwrapped from DDP)
    optimizer, scaler  training state (absent in weights-only exports)
    best              {"score", "epoch"} of the best validation so far
    dataset           {"num_classes", "class_names", "fingerprints"}
    imported_from     (imported checkpoints) source format, file, SHA-256, mapping, notes

Loading never runs code: files are read with ``torch.load(weights_only=True)``,
whose unpickler accepts tensors, containers and numbers and nothing else. A file
that holds anything more (a pickled object whose ``__reduce__`` would call a
function) is refused with one line and not loaded. Checkpoints written by
wsolkit 0.1 carried NumPy's RNG state as an array; the three NumPy globals that
rebuild a plain array are allowed so those files still load.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wsolkit import __version__
from wsolkit.errors import DataError
from wsolkit.io import atomic_path

FORMAT = "wsolkit-checkpoint/1"


@dataclass
class DatasetInfo:
    """What a checkpoint knows of its data: classes, and each split's metadata fingerprint."""

    num_classes: int
    class_names: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] | None = None  # None: written before fingerprints existed


@dataclass
class Checkpoint:
    """A wsolkit checkpoint, typed (see the module docstring for the file's keys)."""

    settings: dict[str, Any]
    epoch: int
    model: dict[str, torch.Tensor]
    dataset: DatasetInfo
    optimizer: dict[str, Any] | None = None
    scaler: dict[str, Any] | None = None
    best_score: float | None = None
    best_epoch: int | None = None
    best_taus: dict[str, Any] | None = None  # val's best thresholds at the best epoch
    val_taus: dict[str, Any] | None = None  # … at the latest validation
    skipped_images: int = 0
    wsolkit_version: str = __version__
    imported_from: dict[str, Any] | None = None  # provenance of ``wsolkit import-checkpoint``

    def to_payload(self) -> dict[str, Any]:
        """The dict ``torch.save`` writes (tensors and plain data only)."""
        payload: dict[str, Any] = {
            "settings": self.settings,
            "epoch": self.epoch,
            "model": self.model,
            "best": {"score": self.best_score, "epoch": self.best_epoch, "taus": self.best_taus},
            "val_taus": self.val_taus,
            "skipped_images": self.skipped_images,
            "dataset": {
                "num_classes": self.dataset.num_classes,
                "class_names": list(self.dataset.class_names),
            },
        }
        if self.dataset.fingerprints is not None:
            payload["dataset"]["fingerprints"] = dict(self.dataset.fingerprints)
        if self.optimizer is not None:
            payload["optimizer"] = self.optimizer
        if self.scaler is not None:
            payload["scaler"] = self.scaler
        if self.imported_from is not None:
            payload["imported_from"] = self.imported_from
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: Path | str) -> Checkpoint:
        """Check a loaded payload's keys; a missing or mistyped one is a one-line error."""
        try:
            dataset = payload["dataset"]
            best = payload.get("best") or {}
            return cls(
                settings=dict(payload["settings"]),
                epoch=int(payload["epoch"]),
                model=dict(payload["model"]),
                dataset=DatasetInfo(
                    int(dataset["num_classes"]),
                    list(dataset.get("class_names") or []),
                    dataset.get("fingerprints"),
                ),
                optimizer=payload.get("optimizer"),
                scaler=payload.get("scaler"),
                best_score=best.get("score"),
                best_epoch=best.get("epoch"),
                best_taus=best.get("taus"),
                val_taus=payload.get("val_taus"),
                skipped_images=int(payload.get("skipped_images", 0)),
                wsolkit_version=str(payload.get("wsolkit_version", "")),
                imported_from=payload.get("imported_from"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            what = f"no '{exc.args[0]}' entry" if isinstance(exc, KeyError) else str(exc)
            raise DataError(
                f"checkpoint {path} is damaged ({what}); use another checkpoint"
            ) from None


def save_checkpoint(
    path: Path, payload: dict[str, Any] | Checkpoint, *, what: str = "checkpoint"
) -> None:
    """``torch.save`` to a temp file, then rename: a crash never leaves a torn checkpoint,
    and a full disk is a one-line :class:`~wsolkit.io.DiskWriteError` (the old file stays)."""
    if isinstance(payload, Checkpoint):
        payload = payload.to_payload()
    payload = {"format": FORMAT, "wsolkit_version": __version__, **payload}
    with atomic_path(path, suffix=".pt", what=what) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """:func:`load_checkpoint`, typed."""
    return Checkpoint.from_payload(load_checkpoint(path, map_location), path)


def _numpy_array_globals() -> list[Any]:
    """What unpickling a plain NumPy array needs (arrays of numbers; no code runs)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    allowed: list[Any] = [_reconstruct, np.ndarray, np.dtype]
    # Files written under NumPy 1.x name the function numpy.core.multiarray._reconstruct.
    allowed.append((_reconstruct, "numpy.core.multiarray._reconstruct"))
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return allowed


def load_torch_file(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; any failure is a one-line :class:`DataError`.

    A file whose pickle names a function or class outside the allowed set is
    refused without running it; the error names the first such global.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path)
        if not unsafe:
            raise _unreadable(path, exc) from None
        raise DataError(
            f"checkpoint {path} holds more than tensors and plain data (it references "
            f"{unsafe}); it was NOT loaded, since unpickling it could run code. Load only "
            "checkpoints you trust, and re-save the weights as a plain state dict"
        ) from None
    except Exception as exc:  # torch raises many types for a corrupt file
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: Exception) -> DataError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(
        f"checkpoint {path} cannot be read ({type(exc).__name__}: {reason[:200]}); "
        "it is truncated or not a torch file"
    )


def _unsafe_globals(path: Path) -> str:
    """The first globals the file's pickle references beyond the allowed ones (read, not run)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - only a detail of the message
        return ""
    allowed = {"numpy.ndarray", "numpy.dtype"}
    names = [n for n in names if n not in allowed and not n.endswith("multiarray._reconstruct")]
    return ", ".join(names[:3])


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load (weights only, see the module docstring) and check the format; a foreign,
    unsafe or newer file is a one-line error."""
    path = Path(path)
    payload = load_torch_file(path, map_location)
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
