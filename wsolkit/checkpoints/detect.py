"""Recognise the format of a loaded checkpoint from its container keys and its key names."""

from __future__ import annotations

from collections.abc import Mapping

from wsolkit.checkpoints.formats import FORMATS
from wsolkit.checkpoints.matching import matching_layouts
from wsolkit.checkpoints.rules import CheckpointImportError
from wsolkit.checkpoints.source import describe, is_state_dict, preview, read_source

WSOLKIT_FORMAT_PREFIX = "wsolkit-checkpoint/"


def _container_formats(container: Mapping[object, object]) -> list[tuple[str, str]]:
    """``(format, reason)`` the container's own keys point to, most specific first."""
    keys = set(container)
    found = []
    for name, fmt in FORMATS.items():
        entries = [key for key, _ in fmt.weights]
        if all(key in keys for key in entries):
            saved = set(fmt.container)
            listed = preview(entries + sorted(str(k) for k in keys & saved - set(entries)))
            # the container that is most like the one this format saves comes first
            score = len(keys & saved) - len(keys - saved) - len(saved - keys)
            found.append((score, name, f"keys {listed}, as {fmt.name}'s {fmt.saved_by} saves"))
    found.sort(key=lambda item: -item[0])
    return [(name, reason) for _, name, reason in found]


def detect(container: object, *, origin: str = "the file") -> tuple[str, str]:
    """``(format, reason)``: which format a loaded checkpoint is, from its keys and key names.

    The container's keys decide first (``state_dict_extractor`` and
    ``state_dict_classifier``: DA-WSOL; ``architecture``, ``epoch``, ``state_dict``,
    ``optimizer``: wsolevaluation; only ``state_dict``: bridging-gap); the key names
    of the weights then confirm it or point to the format whose layout they fit.
    A bare state dict is recognised by its key names alone. Nothing recognisable
    is a one-line :class:`CheckpointImportError` saying what was found.
    """
    if not isinstance(container, Mapping):
        raise CheckpointImportError(
            f"{origin} is not a checkpoint wsolkit can import: it holds {describe(container)}, "
            "not a dict of weights"
        )
    tag = container.get("format")
    if isinstance(tag, str) and tag.startswith(WSOLKIT_FORMAT_PREFIX):
        raise CheckpointImportError(
            f"{origin} is already a wsolkit checkpoint ('{tag}'): there is nothing to import; "
            "use it as it is (wsolkit eval CHECKPOINT)"
        )
    by_container = _container_formats(container)
    if by_container:
        candidates = by_container
    elif is_state_dict(container):
        candidates = [(n, "a bare state dict") for n, f in FORMATS.items() if f.bare]
    else:
        raise CheckpointImportError(
            f"{origin} is not a checkpoint of {', '.join(FORMATS)}: it holds "
            f"{describe(container)}, none of which holds weights as those formats save them"
        )
    fits: dict[str, list[str]] = {}
    unreadable: list[CheckpointImportError] = []
    sources = []
    for name, _ in candidates:
        try:
            source = read_source(container, name, origin=origin)
        except CheckpointImportError as exc:
            unreadable.append(exc)
            continue
        sources.append(source)
        labels = [layout.label() for f, layout in matching_layouts(source) if f == name]
        if labels:
            fits[name] = labels
    first, reason = candidates[0]
    if fits:
        chosen = next(name for name, _ in candidates if name in fits)
        whose = "" if chosen == first else f"{chosen}'s "
        reason += f"; key names fit {whose}{'; '.join(fits[chosen])}"
        others = [name for name in fits if name != chosen]
        if others:
            reason += f" (and {', '.join(others)}'s, whose network is the same)"
        return chosen, reason
    if not sources:
        raise unreadable[0]
    if by_container:  # the container says which format; convert() will say what differs
        return first, f"{reason} (its key names fit none of this format's layouts)"
    keys = sorted(str(k) for k in container)
    raise CheckpointImportError(
        f"{origin} is a state dict whose key names fit no known layout of "
        f"{', '.join(n for n, _ in candidates)} (keys {preview(keys)}); pass --from FORMAT "
        "with the backbone and method to see which keys differ"
    )
