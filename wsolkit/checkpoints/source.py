"""The weights inside a loaded reference checkpoint, in the reference's own key names.

The engine reads the file (``torch.load(weights_only=True)``) and passes the
loaded object; :func:`read_source` takes the state dict(s) the format keeps
(DA-WSOL keeps two, read as one with ``extractor.`` / ``classifier.`` prefixes),
removes ``module`` components (DataParallel / DDP) wherever they appear in a key,
keeps tensors only and remembers the plain metadata the file records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from torch import Tensor

from wsolkit.checkpoints.formats import FORMATS, SourceFormat
from wsolkit.checkpoints.rules import CheckpointImportError, strip_module

_SHOWN = 4  # keys listed in messages


@dataclass(frozen=True)
class SourceWeights:
    """The weights of a reference checkpoint, in the reference's key names.

    Attributes:
        format: the format name (a key of :data:`FORMATS`).
        state: every tensor, keyed by its reference name (``module`` components
            removed; prefixed per :attr:`SourceFormat.weights`).
        records: plain metadata the file records (``architecture``, ``epoch``).
        ignored: container entries not imported (optimizer states …).
        unwrapped: how many keys had a ``module.`` component (DataParallel / DDP).
    """

    format: str
    state: dict[str, Tensor]
    records: dict[str, object] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    unwrapped: int = 0


def preview(keys: list[str]) -> str:
    """The first few keys, quoted, and how many more there are (for one-line messages)."""
    shown = ", ".join(f"'{k}'" for k in keys[:_SHOWN])
    return shown + (f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")


def source_format(name: str) -> SourceFormat:
    """``FORMATS[name]``, or a one-line error listing the formats."""
    if name not in FORMATS:
        raise CheckpointImportError(
            f"unknown checkpoint format '{name}'; use one of {', '.join(FORMATS)} or 'auto'"
        )
    return FORMATS[name]


def is_state_dict(obj: object) -> bool:
    """Whether ``obj`` is a mapping holding at least one tensor (a bare state dict)."""
    return isinstance(obj, Mapping) and any(isinstance(v, Tensor) for v in obj.values())


def describe(obj: object) -> str:
    """What a loaded object is, for messages: its type, or a dict's first keys."""
    if not isinstance(obj, Mapping):
        return f"a {type(obj).__name__}"
    if not obj:
        return "an empty dict"
    return f"a dict with keys {preview([str(k) for k in obj])}"


def read_source(container: object, fmt: str, *, origin: str = "the file") -> SourceWeights:
    """The weights of a loaded checkpoint of format ``fmt``, with ``module.`` removed.

    ``container`` is what ``torch.load`` returned: the dict the reference saved or,
    for formats that allow it, a bare state dict. Non-tensor values are skipped.
    """
    source = source_format(fmt)
    if not isinstance(container, Mapping):
        raise CheckpointImportError(
            f"{origin} is not a checkpoint wsolkit can import: it holds {describe(container)}, "
            "not a dict of weights"
        )
    entries = [key for key, _ in source.weights]
    if all(key in container for key in entries):
        parts = [(container[key], prefix, key) for key, prefix in source.weights]
        used = set(entries)
    elif source.bare and is_state_dict(container) and not any(k in container for k in entries):
        parts, used = [(container, "", "")], set(container)
    else:
        wanted = " and ".join(f"'{key}'" for key in entries)
        raise CheckpointImportError(
            f"{origin} is not a {fmt} checkpoint: that format keeps its weights under {wanted}, "
            f"but it holds {describe(container)}; try --from auto"
        )
    state: dict[str, Tensor] = {}
    origins: dict[str, str] = {}
    for part, prefix, entry in parts:
        if not isinstance(part, Mapping):
            raise CheckpointImportError(
                f"{origin}: entry '{entry}' holds {describe(part)}, not a state dict"
            )
        for key, value in part.items():
            if not isinstance(value, Tensor):
                continue
            name = prefix + strip_module(str(key))
            if name in state:
                raise CheckpointImportError(
                    f"{origin}: keys '{origins[name]}' and '{key}' are one key once 'module.' "
                    "(DataParallel / DDP) is removed; save the state dict of one model"
                )
            state[name], origins[name] = value, str(key)
    if not state:
        raise CheckpointImportError(f"{origin} holds no tensors ({describe(container)})")
    records = {
        key: container[key]
        for key in source.records
        if key not in used and isinstance(container.get(key), str | int)
    }
    ignored = tuple(str(k) for k in container if k not in used and k not in records)
    unwrapped = sum("module" in key.split(".") for key in origins.values())
    return SourceWeights(fmt, state, records, ignored, unwrapped)


def source_state_dict(container: object, fmt: str) -> dict[str, Tensor]:
    """Just the tensors of :func:`read_source` (reference key names, ``module.`` removed)."""
    return read_source(container, fmt).state
