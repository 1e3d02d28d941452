"""Pretrained weights: torchvision's ImageNet files from the local cache, files shipped
inside the package, or a state-dict file.

Nothing is ever downloaded. ``weights="imagenet"`` reads the file that
``torch.hub`` would have cached (``torch.hub.get_dir()/checkpoints/<file>``);
when it is absent the error names the exact file and folder. A backbone may
ship named weights inside the package (``tiny``: ``synthetic-pretrained``), each
checked against its SHA-256 before it is read. ``weights=PATH`` reads a
torchvision state dict (or one saved from the same wsolkit backbone).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from wsolkit.errors import WsolkitError

SHOWN_KEYS = 5


class WeightsError(WsolkitError):
    """Pretrained weights that cannot be found or do not fit the backbone."""


@dataclass(frozen=True)
class WeightsSpec:
    """What the ``weights`` argument of a backbone asks for."""

    kind: str  # "none", "imagenet", "named" or "file"
    path: Path | None = None
    name: str = ""


@dataclass(frozen=True)
class NamedWeights:
    """Weights shipped inside a package: the file, its SHA-256 and how to remake it."""

    path: Path
    sha256: str
    description: str
    remake: str  # the command that writes the same bytes


def parse_weights(
    weights: str | Path | None, named: Mapping[str, NamedWeights] | None = None
) -> WeightsSpec:
    """``"none"``/``None`` -> from scratch, ``"imagenet"`` -> torch cache, a name of ``named``
    -> that shipped file, else a file path."""
    if weights is None or (isinstance(weights, str) and weights.strip().lower() == "none"):
        return WeightsSpec("none")
    if isinstance(weights, str) and weights.strip().lower() == "imagenet":
        return WeightsSpec("imagenet")
    named = named or {}
    if isinstance(weights, str) and weights.strip().lower() in named:
        key = weights.strip().lower()
        return WeightsSpec("named", named[key].path, key)
    path = Path(weights).expanduser()
    if not path.is_file():
        names = "".join(f", '{n}'" for n in sorted(named))
        flags = "".join(f", --weights {n}" for n in sorted(named))
        raise WeightsError(
            f"weights '{weights}' is neither 'imagenet', 'none'{names} nor an existing file; "
            f"pass --weights imagenet, --weights none{flags} or the path of a state-dict file."
        )
    return WeightsSpec("file", path)


def verified_file(name: str, backbone: str, weights: NamedWeights) -> Path:
    """The shipped file of ``weights`` after checking its SHA-256 (a damaged install is refused)."""
    try:
        data = weights.path.read_bytes()
    except OSError as exc:
        raise WeightsError(
            f"the '{name}' weights of '{backbone}' should be at '{weights.path}' but cannot be "
            f"read ({exc.strerror or exc}); reinstall wsolkit, or remake the file with "
            f"`{weights.remake}` and pass it as --weights PATH."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != weights.sha256:
        raise WeightsError(
            f"the '{name}' weights file '{weights.path}' has SHA-256 {digest}, not the shipped "
            f"{weights.sha256}; reinstall wsolkit, or remake the file with `{weights.remake}` "
            "and pass it as --weights PATH."
        )
    return weights.path


def cached_file(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url(url)`` keeps its download."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def imagenet_file(backbone: str, url: str | None) -> Path:
    """The cached torchvision ImageNet file of ``backbone``, or an error saying where to put it."""
    if url is None:
        raise WeightsError(
            f"backbone '{backbone}' has no ImageNet weights; use --weights none or "
            "--weights PATH (a state-dict file of this backbone)."
        )
    path = cached_file(url)
    if not path.is_file():
        raise WeightsError(
            f"ImageNet weights for '{backbone}' are not in the local torch cache and wsolkit "
            f"never downloads: put '{path.name}' (from {url}) in the folder '{path.parent}' "
            "(set TORCH_HOME to use another cache), or pass --weights PATH or --weights none."
        )
    return path


def load_weights_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: no code in the file runs.

    Raises:
        WeightsError: the file is unreadable or carries a pickled object (naming the file).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable or unsafe pickle: say which file and why
        raise WeightsError(
            f"cannot read weights file '{path}': {type(exc).__name__}: {exc}"
        ) from None


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Load a state dict (a mapping of names to tensors) from ``path`` on the CPU."""
    obj = load_weights_file(path)
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        keys = list(obj)[:SHOWN_KEYS] if isinstance(obj, Mapping) else []
        raise WeightsError(
            f"weights file '{path}' is not a state dict (a mapping of names to tensors)"
            + (f"; its top-level keys are {keys}" if keys else "")
            + ": save one with torch.save(model.state_dict(), path)."
        )
    return dict(obj)


def _preview(keys: list[str]) -> str:
    head = ", ".join(keys[:SHOWN_KEYS])
    more = f" (+{len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else ""
    return f"{head}{more}"


def load_into(
    module: nn.Module,
    state: Mapping[str, Tensor],
    *,
    source: str,
    backbone: str,
    required: set[str],
    map_key: Callable[[str], str | None],
) -> list[str]:
    """Copy ``state`` into ``module`` after renaming each key with ``map_key``.

    ``map_key`` returns the module's own key for a file key, or ``None`` for a
    file tensor that is not part of this backbone (e.g. torchvision's
    classifier). Every key in ``required`` (the pretrained trunk) must come
    from the file with the same shape; other keys of the module are loaded when
    the file carries them with the same shape (e.g. a 1000-class fc), else left
    as initialized. ``num_batches_tracked`` buffers are optional both ways.

    Returns:
        The module keys that were loaded.

    Raises:
        WeightsError: naming the first missing, unexpected or mis-shaped keys.
    """
    own = module.state_dict()
    mapped: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for key, tensor in state.items():
        target = map_key(key)
        if target is None:
            continue
        if target in own:
            mapped[target] = tensor
        elif not target.endswith("num_batches_tracked"):
            unexpected.append(key)
    missing = sorted(
        k for k in required if k not in mapped and not k.endswith("num_batches_tracked")
    )
    wrong_shape = [
        f"{k} {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}"
        for k in sorted(required)
        if k in mapped and mapped[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s): {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s): {_preview(unexpected)}")
        if wrong_shape:
            parts.append(f"wrong shape (file vs model): {_preview(wrong_shape)}")
        raise WeightsError(
            f"weights '{source}' do not fit backbone '{backbone}': "
            + "; ".join(parts)
            + ". Pass a torchvision state dict of the same architecture."
        )
    loadable = {k: v for k, v in mapped.items() if v.shape == own[k].shape}
    result = module.load_state_dict(loadable, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # filtered above
    return sorted(loadable)
