"""wsolkit's own plugin names, read from the registries, for tests that cover every built-in.

Tests parametrize over :func:`builtin_names` instead of hand-kept tuples, keep
what they expect of each name in a dict, and check with :func:`assert_covers`
that the dict has exactly one entry per built-in: a new backbone or method then
fails loudly, naming the dict to extend, instead of being silently skipped.

Third-party plugins installed in the same environment (such as
``plugins/wsolkit-torchvision-extra``) are left out; they have their own tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from wsolkit.registry import Registry

BUILTIN_PACKAGE = "wsolkit"


def builtin_aliases(registry: Registry) -> dict[str, str]:
    """``{alias: name}`` for wsolkit's names that load the same object as an earlier name.

    "Earlier" is the sorted order of :meth:`Registry.names`, as in
    :meth:`Registry.describe_all` (``bridging-gap`` is an alias of ``aligned-eil``).
    """
    first: dict[int, str] = {}
    aliases = {}
    for name in registry.names():
        if registry.package_of(name) != BUILTIN_PACKAGE:
            continue
        original = first.setdefault(id(registry.load(name)), name)
        if original != name:
            aliases[name] = original
    return aliases


def builtin_names(registry: Registry) -> list[str]:
    """wsolkit's own names in ``registry``, sorted, aliases dropped."""
    aliases = builtin_aliases(registry)
    return [
        name
        for name in registry.names()
        if registry.package_of(name) == BUILTIN_PACKAGE and name not in aliases
    ]


def assert_covers(expected: Iterable[str], registry: Registry, where: str) -> None:
    """Fail unless ``expected`` (a dict's keys) names each built-in of ``registry`` exactly once.

    ``where`` names the dict for the message, e.g. ``"SIDE_224 in tests/methods/x.py"``.
    """
    keys = set(expected)
    names = set(builtin_names(registry))
    problems = []
    if missing := sorted(names - keys):
        problems.append(f"add an entry for {', '.join(map(repr, missing))}")
    if stale := sorted(keys - names):
        problems.append(
            f"remove the entry for {', '.join(map(repr, stale))} "
            f"(not a built-in {registry.kind}, or an alias)"
        )
    assert not problems, (
        f"{where} must have one entry per built-in {registry.kind} "
        f"({', '.join(sorted(names))}): " + "; ".join(problems)
    )
