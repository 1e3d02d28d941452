"""Key mappings as data: ordered rename rules, applied by one function and inverted by another.

A :class:`Rule` renames the keys that start with ``source`` (optionally followed
by a block index in ``indices``, shifted by ``offset``) to ``target``; ``target``
``None`` drops the key (an unused layer of the reference). The first rule that
matches a key wins, so tables list the specific renames first and end with a
catch-all such as ``Rule("", "backbone.")``. A rule may also change a tensor's
layout beyond the rename (:data:`RESHAPES`); every such change is named in the
rule, never hidden in code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor

from wsolkit.errors import DataError


class CheckpointImportError(DataError):
    """A checkpoint that cannot be imported as asked; the message says what would fit."""


def _squeeze_1x1(tensor: Tensor) -> Tensor:
    """K×C×1×1 (a 1×1 convolution's weight) → K×C (a linear layer's); 1-D biases unchanged."""
    if tensor.dim() == 4 and tensor.shape[2:] == (1, 1):
        return tensor.reshape(tensor.shape[0], tensor.shape[1])
    return tensor


def _unsqueeze_1x1(tensor: Tensor) -> Tensor:
    """K×C → K×C×1×1 (the inverse of :func:`_squeeze_1x1`); 1-D biases unchanged."""
    if tensor.dim() == 2:
        return tensor.reshape(tensor.shape[0], tensor.shape[1], 1, 1)
    return tensor


# name -> (forward, inverse, description): the layout changes a rule may apply.
RESHAPES: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor], str]] = {
    "conv1x1-to-linear": (
        _squeeze_1x1,
        _unsqueeze_1x1,
        "1×1-conv weight K×C×1×1 squeezed to the linear weight K×C",
    ),
}


@dataclass(frozen=True)
class Rule:
    """Rename ``source…`` to ``target…``; with indices, ``source<n>.…`` to ``target<n+offset>.…``.

    Attributes:
        source: prefix of the reference's key ("" matches every key).
        target: prefix of wsolkit's model key, or None to drop the key (said in the notes).
        indices: block indices n (the integer right after ``source``) the rule covers.
        offset: added to n (a layer the reference inserts, e.g. ADL, shifts later indices).
        reshape: a layout change from :data:`RESHAPES` applied to the tensor, if any.
        why: for dropped keys and reshapes, one phrase saying why (for the notes).
    """

    source: str
    target: str | None
    indices: range | None = None
    offset: int = 0
    reshape: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.reshape is not None and self.reshape not in RESHAPES:
            raise ValueError(f"unknown reshape {self.reshape!r}; known: {', '.join(RESHAPES)}")

    def apply(self, key: str) -> str | None:
        """The renamed key ("" for a dropped key), or None if this rule does not match ``key``."""
        if not key.startswith(self.source):
            return None
        rest = key[len(self.source) :]
        if self.indices is not None:
            number, dot, tail = rest.partition(".")
            if not (number.isdigit() and dot and int(number) in self.indices):
                return None
            rest = f"{int(number) + self.offset}.{tail}"
        return "" if self.target is None else self.target + rest

    def invert(self, key: str) -> str | None:
        """The reference key this rule renames to wsolkit's ``key``, or None."""
        if self.target is None or not key.startswith(self.target):
            return None
        rest = key[len(self.target) :]
        if self.indices is not None:
            number, dot, tail = rest.partition(".")
            if not (number.isdigit() and dot and int(number) - self.offset in self.indices):
                return None
            rest = f"{int(number) - self.offset}.{tail}"
        return self.source + rest

    def describe(self) -> str:
        """One line such as ``features.{23..28}.* → backbone.features.{24..29}.*``."""
        if self.indices is None:
            left, right = f"{self.source}*", f"{self.target}*"
        else:
            first, last = self.indices.start, self.indices.stop - 1
            left = f"{self.source}{{{first}..{last}}}.*"
            right = f"{self.target}{{{first + self.offset}..{last + self.offset}}}.*"
        if self.target is None:
            return f"{left} dropped" + (f" ({self.why})" if self.why else "")
        text = f"{left} → {right}"
        if self.reshape is not None:
            text += f" ({RESHAPES[self.reshape][2]})"
        return text


def map_key(key: str, rules: Sequence[Rule]) -> tuple[str | None, Rule | None]:
    """``(new key, rule)`` by the first matching rule; ``(None, rule)`` if it drops the key;
    ``(None, None)`` if no rule matches."""
    for rule in rules:
        renamed = rule.apply(key)
        if renamed is not None:
            return (renamed or None), rule
    return None, None


def apply_rules(
    state: Mapping[str, Tensor], rules: Sequence[Rule]
) -> tuple[dict[str, Tensor], list[str], list[Rule], list[str]]:
    """Rename every key of ``state`` by ``rules``.

    Returns ``(mapped, dropped, used, unmatched)``: the renamed (and reshaped)
    tensors, the source keys a rule dropped, the rules that matched at least one
    key (in table order) and the source keys no rule matched. Two source keys
    renamed to one key raise :class:`CheckpointImportError`.
    """
    mapped: dict[str, Tensor] = {}
    origin: dict[str, str] = {}
    dropped: list[str] = []
    unmatched: list[str] = []
    used: set[int] = set()
    for key, tensor in state.items():
        new, rule = map_key(key, rules)
        if rule is None:
            unmatched.append(key)
            continue
        used.add(id(rule))
        if new is None:
            dropped.append(key)
            continue
        if new in mapped:
            raise CheckpointImportError(
                f"keys '{origin[new]}' and '{key}' both map to '{new}': the file holds two "
                "copies of one layer; keep one of them in the state dict"
            )
        origin[new] = key
        mapped[new] = RESHAPES[rule.reshape][0](tensor) if rule.reshape else tensor
    return mapped, dropped, [r for r in rules if id(r) in used], unmatched


def invert_key(key: str, rules: Sequence[Rule]) -> str | None:
    """The reference key that ``rules`` rename to wsolkit's ``key`` (None if there is none).

    The candidate of each rule, in order, is checked by mapping it forward again,
    so the first-match order of the table is respected.
    """
    for rule in rules:
        source = rule.invert(key)
        if source is not None and map_key(source, rules)[0] == key:
            return source
    return None


def invert_rules(state: Mapping[str, Tensor], rules: Sequence[Rule]) -> dict[str, Tensor]:
    """wsolkit's state dict → the reference's key names and layouts (tests, exports).

    Raises ``KeyError`` for a wsolkit key no rule produces.
    """
    inverted: dict[str, Tensor] = {}
    for key, tensor in state.items():
        source = invert_key(key, rules)
        if source is None:
            raise KeyError(f"no rule produces '{key}'")
        rule = map_key(source, rules)[1]
        assert rule is not None
        inverted[source] = RESHAPES[rule.reshape][1](tensor) if rule.reshape else tensor
    return inverted


def strip_module(key: str) -> str:
    """``key`` without any ``module`` component (DataParallel / DDP wrappers, at any depth)."""
    return ".".join(part for part in key.split(".") if part != "module")
