"""Entry-point registries for backbones, methods and datasets.

Built-in plugins are declared in wsolkit's own ``pyproject.toml`` under the
groups ``wsolkit.backbones``, ``wsolkit.methods`` and ``wsolkit.datasets``,
exactly as a third-party package declares its own: there is no other way in.

Discovery reads entry-point metadata only (a few milliseconds, nothing is
imported); a plugin is imported on first use. A plugin that fails to import is
reported by ``wsolkit list`` and by name when asked for, and never breaks
anything else. Two distributions claiming one name is an error naming both.

Set ``WSOLKIT_DISABLE_PLUGIN_AUTOLOAD=1`` to ignore every plugin that is not
shipped by wsolkit itself (like pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from wsolkit.errors import PluginError

DISABLE_AUTOLOAD_ENV = "WSOLKIT_DISABLE_PLUGIN_AUTOLOAD"
_OWN_DISTRIBUTION = "wsolkit"


@dataclass(frozen=True)
class PluginInfo:
    """What ``wsolkit list`` shows for one registered name."""

    name: str
    package: str
    target: str
    description: str
    status: str  # "ok" or "failed"
    error: str | None = None
    alias_of: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "<unknown>"


def describe_object(obj: Any) -> str:
    """A plugin object's one-line description: ``description`` or its docstring's first line."""
    text = getattr(obj, "description", None)
    if not isinstance(text, str) or not text.strip():
        text = (getattr(obj, "__doc__", None) or "").strip()
    return text.splitlines()[0].strip() if text else ""


class Registry:
    """Plugins of one kind, discovered from one entry-point group.

    ``load(name)`` returns the object the entry point names (a class, a
    builder function, or a spec object) and ``create(name, **kwargs)`` calls it.
    """

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._entries: dict[str, list[EntryPoint]] | None = None
        self._loaded: dict[str, Any] = {}
        self._failures: dict[str, PluginError] = {}

    # -- discovery -------------------------------------------------------------
    def _discover(self) -> dict[str, list[EntryPoint]]:
        if self._entries is None:
            own_only = os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() not in ("", "0")
            found: dict[str, list[EntryPoint]] = {}
            for ep in entry_points(group=self.group):
                if own_only and _dist_name(ep) != _OWN_DISTRIBUTION:
                    continue
                claims = found.setdefault(ep.name, [])
                # The same distribution seen twice (e.g. a stale egg-info beside an
                # editable install) is one claim, not a conflict.
                if any(_dist_name(c) == _dist_name(ep) and c.value == ep.value for c in claims):
                    continue
                claims.append(ep)
            self._entries = found
        return self._entries

    def refresh(self) -> None:
        """Forget what was discovered and loaded (tests that install fake plugins call this)."""
        self._entries = None
        self._loaded.clear()
        self._failures.clear()

    def names(self) -> list[str]:
        """Every registered name, sorted, whether or not it loads."""
        return sorted(self._discover())

    def available(
        self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None
    ) -> list[str]:
        """Registered names filtered by wildcard patterns (``available(include="res*")``)."""

        def patterns(p: str | Iterable[str] | None) -> list[str]:
            return [p] if isinstance(p, str) else list(p or [])

        names = self.names()
        inc, exc = patterns(include), patterns(exclude)
        if inc:
            names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in inc)]
        return [n for n in names if not any(fnmatch.fnmatch(n, p) for p in exc)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._discover()

    # -- loading ---------------------------------------------------------------
    def _entry(self, name: str) -> EntryPoint:
        entries = self._discover()
        if name not in entries:
            known = sorted(entries)
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
            listing = ", ".join(known) if known else "none"
            raise PluginError(
                f"unknown {self.kind} '{name}'.{suggestion} Available: {listing} "
                f"(see `wsolkit list {self.kind}s`)."
            )
        claims = entries[name]
        if len(claims) > 1:
            owners = " and ".join(f"'{_dist_name(c)}' ({c.value})" for c in claims)
            raise PluginError(
                f"{self.kind} '{name}' is registered by more than one package: {owners}. "
                f"Uninstall one of them, or set {DISABLE_AUTOLOAD_ENV}=1 to use wsolkit's own."
            )
        return claims[0]

    def load(self, name: str) -> Any:
        """Import and return the object registered as ``name`` (cached)."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failures:
            raise self._failures[name]
        ep = self._entry(name)
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            error = PluginError(
                f"error importing {self.kind} plugin '{name}' ({ep.value}) from package "
                f"'{_dist_name(ep)}': {type(exc).__name__}: {exc}"
            )
            self._failures[name] = error
            raise error from exc
        self._loaded[name] = obj
        return obj

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Build the plugin ``name``: ``load(name)(**kwargs)``."""
        factory: Callable[..., Any] = self.load(name)
        return factory(**kwargs)

    def package_of(self, name: str) -> str:
        """The distribution that provides ``name``."""
        return _dist_name(self._entry(name))

    # -- listing ---------------------------------------------------------------
    def describe(self, name: str) -> PluginInfo:
        """Load ``name`` (guarded) and say what it is; a failure becomes ``status='failed'``."""
        claims = self._discover()[name]
        ep = claims[0]
        package = " + ".join(_dist_name(c) for c in claims)
        try:
            obj = self.load(name)
        except PluginError as exc:
            return PluginInfo(name, package, ep.value, "", "failed", str(exc))
        details_fn = getattr(obj, "plugin_details", None)
        details: dict[str, Any] = {}
        if callable(details_fn):
            try:
                details = dict(details_fn())
            except Exception as exc:  # details are a nicety; never fatal
                details = {"error": f"{type(exc).__name__}: {exc}"}
        return PluginInfo(name, package, ep.value, describe_object(obj), "ok", None, None, details)

    def describe_all(self) -> list[PluginInfo]:
        """``describe`` every registered name (importing them); aliases name the first one."""
        first_name: dict[int, str] = {}
        out = []
        for info in map(self.describe, self.names()):
            if info.status == "ok":
                first = first_name.setdefault(id(self._loaded[info.name]), info.name)
                if first != info.name:
                    info = dataclasses.replace(info, alias_of=first)
            out.append(info)
        return out


backbones = Registry("wsolkit.backbones", "backbone")
methods = Registry("wsolkit.methods", "method")
datasets = Registry("wsolkit.datasets", "dataset")

REGISTRIES: dict[str, Registry] = {
    "backbones": backbones,
    "methods": methods,
    "datasets": datasets,
}


def refresh_all() -> None:
    """Re-discover every registry (after installing or removing a plugin at run time)."""
    for registry in REGISTRIES.values():
        registry.refresh()
