"""Entry-point registries for backbones, methods, datasets, score-map extractors and run loggers.

Built-in plugins are declared in wsolkit's own ``pyproject.toml`` under the
groups ``wsolkit.backbones``, ``wsolkit.methods``, ``wsolkit.datasets``,
``wsolkit.extractors`` and ``wsolkit.loggers``, exactly as a third-party package declares its own:
there is no other way in.

Discovery reads entry-point metadata only (a few milliseconds, nothing is
imported); a plugin is imported on first use. A plugin that fails to import is
reported by ``wsolkit list`` and by name when asked for, and never breaks
anything else. Two distributions claiming one name is an error naming both.

Listing describes plugins, which means importing them (and torch). So
:func:`plugin_listing` (``wsolkit list``) reads descriptions from a cache
(:mod:`wsolkit.plugin_cache`) whose entries are checked without importing
anything, and imports only the plugins whose entry is missing or stale;
``check=True`` (``wsolkit list --check``) imports every plugin. Describing a
plugin always refreshes its entry.

Set ``WSOLKIT_DISABLE_PLUGIN_AUTOLOAD=1`` to ignore every plugin that is not
shipped by wsolkit itself (like pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import Distribution, EntryPoint, entry_points
from pathlib import Path
from typing import Any

from wsolkit.errors import PluginError
from wsolkit.plugin_cache import Fingerprints, PluginCache

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
    version: str | None = None  # the package's version


@dataclass(frozen=True)
class PluginListing:
    """What ``wsolkit list`` shows: the plugins of each kind, and how they were described."""

    plugins: dict[str, list[PluginInfo]]
    from_cache: int  # descriptions read from the cache rather than by importing the plugin
    cache_file: Path
    cache_error: str | None = None  # why the cache could not be written, if it could not

    @property
    def failed(self) -> int:
        """How many plugins failed to load."""
        return sum(info.status != "ok" for infos in self.plugins.values() for info in infos)


def _autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() not in ("", "0")


# A distribution's (name, version): parsing its METADATA each time costs ~0.5 ms.
_DIST_FIELDS: weakref.WeakKeyDictionary[Distribution, tuple[str, str | None]]
_DIST_FIELDS = weakref.WeakKeyDictionary()


def _dist_fields(ep: EntryPoint) -> tuple[str, str | None] | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    if dist not in _DIST_FIELDS:
        metadata = dist.metadata
        _DIST_FIELDS[dist] = (metadata["Name"], metadata["Version"])
    return _DIST_FIELDS[dist]


def _dist_name(ep: EntryPoint) -> str:
    fields = _dist_fields(ep)
    return fields[0] if fields is not None else "<unknown>"


def _dist_version(ep: EntryPoint) -> str | None:
    fields = _dist_fields(ep)
    return fields[1] if fields is not None else None


def _identity(obj: Any, target: str) -> str:
    """What makes two names one plugin (an alias): where the object is defined, else the target."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}:{qualname}"
    return target


def describe_object(obj: Any) -> str:
    """A plugin object's one-line description: ``description`` or its docstring's first line."""
    text = getattr(obj, "description", None)
    if not isinstance(text, str) or not text.strip():
        text = (getattr(obj, "__doc__", None) or "").strip()
    return text.splitlines()[0].strip() if text else ""


def _failure_text(exc: BaseException) -> str:
    """What went wrong at a plugin's import, in one line (``sys.exit`` included)."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being imported"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
            own_only = _autoload_disabled()
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
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a broken plugin must not take the tool down
            error = PluginError(
                f"error importing {self.kind} plugin '{name}' ({ep.value}) from package "
                f"'{_dist_name(ep)}': {_failure_text(exc)}"
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
    def _describe_loaded(self, name: str) -> tuple[PluginInfo, str | None]:
        """Load ``name`` (guarded) and describe it, with its identity (``None`` if it failed)."""
        claims = self._discover()[name]
        ep = claims[0]
        package = " + ".join(_dist_name(c) for c in claims)
        version = _dist_version(ep) if len(claims) == 1 else None
        try:
            obj = self.load(name)
        except PluginError as exc:
            failed = PluginInfo(name, package, ep.value, "", "failed", str(exc), version=version)
            return failed, None
        details_fn = getattr(obj, "plugin_details", None)
        details: dict[str, Any] = {}
        if callable(details_fn):
            try:
                # Plain JSON, as the cache holds it: a cached listing reads the same.
                details = json.loads(json.dumps(dict(details_fn()), default=str))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - details are a nicety; never fatal
                details = {"error": _failure_text(exc)}
        info = PluginInfo(
            name, package, ep.value, describe_object(obj), "ok", None, None, details, version
        )
        return info, _identity(obj, ep.value)

    def describe(self, name: str) -> PluginInfo:
        """Load ``name`` (guarded) and say what it is; a failure becomes ``status='failed'``.

        The plugin's entry in the description cache is refreshed.
        """
        describer = _Describer(check=True)
        info = describer.describe(self, name)[0]
        describer.cache.save()
        return info

    def describe_all(self, *, cached: bool = False) -> list[PluginInfo]:
        """``describe`` every registered name; aliases name the first one.

        Every plugin is imported and the cache refreshed, unless ``cached``: then
        a description whose cache entry is current is read from the cache and
        only the other plugins are imported.
        """
        describer = _Describer(check=not cached)
        infos = describer.describe_registry(self)
        describer.cache.save()
        return infos


def _record(info: PluginInfo, identity: str | None) -> dict[str, Any]:
    fields = dataclasses.asdict(info)
    del fields["alias_of"]  # depends on the other names; worked out again at each listing
    return {"info": fields, "identity": identity}


def _from_record(record: Any) -> tuple[PluginInfo, str | None] | None:
    """A cached record back as a description, or ``None`` when it is malformed."""
    try:
        info = PluginInfo(**record["info"])
        identity = record["identity"]
    except (KeyError, TypeError):
        return None
    if info.status not in ("ok", "failed") or not isinstance(info.details, dict):
        return None
    return info, identity if isinstance(identity, str) else None


class _Describer:
    """Describes plugins from the cache where their entry is current, else by importing them."""

    def __init__(self, *, check: bool) -> None:
        self.check = check
        self.cache = PluginCache.open()
        self.fingerprints = Fingerprints()
        self.from_cache = 0

    def describe(self, registry: Registry, name: str) -> tuple[PluginInfo, str | None]:
        claims = registry._discover()[name]
        if len(claims) > 1:  # an error naming both packages: nothing is imported
            return registry._describe_loaded(name)
        ep = claims[0]
        version = _dist_version(ep)
        if version is None:  # no distribution to key an entry on
            return registry._describe_loaded(name)
        package = _dist_name(ep)
        key = {
            "distribution": package,
            "version": version,
            "target": ep.value,
            "files": self.fingerprints.files(ep.value),
            "environment": self.fingerprints.environment(),
        }
        if not self.check:
            hit = _from_record(self.cache.lookup(registry.group, name, package, key))
            if hit is not None:
                self.from_cache += 1
                return hit
        info, identity = registry._describe_loaded(name)
        self.cache.store(registry.group, name, package, key, _record(info, identity))
        return info, identity

    def describe_registry(self, registry: Registry) -> list[PluginInfo]:
        first_name: dict[str, str] = {}
        infos = []
        for name in registry.names():
            info, identity = self.describe(registry, name)
            if info.status == "ok" and identity is not None:
                first = first_name.setdefault(identity, name)
                if first != name:
                    info = dataclasses.replace(info, alias_of=first)
            infos.append(info)
        if not _autoload_disabled():  # else the third-party entries stay for the next listing
            self.cache.prune(registry.group, {(info.name, info.package) for info in infos})
        return infos


backbones = Registry("wsolkit.backbones", "backbone")
methods = Registry("wsolkit.methods", "method")
datasets = Registry("wsolkit.datasets", "dataset")
extractors = Registry("wsolkit.extractors", "extractor")
loggers = Registry("wsolkit.loggers", "logger")

REGISTRIES: dict[str, Registry] = {
    "backbones": backbones,
    "methods": methods,
    "datasets": datasets,
    "extractors": extractors,
    "loggers": loggers,
}


def refresh_all() -> None:
    """Re-discover every registry (after installing or removing a plugin at run time)."""
    for registry in REGISTRIES.values():
        registry.refresh()


def plugin_listing(kinds: Iterable[str] | None = None, *, check: bool = False) -> PluginListing:
    """Describe the plugins of ``kinds`` (default: all) for ``wsolkit list``.

    Descriptions come from the cache where their entry is current; a missing or
    stale entry is described by importing that plugin, and the cache updated.
    ``check=True`` imports every plugin. The cache failing to be written is
    reported in :attr:`PluginListing.cache_error`, never raised.
    """
    describer = _Describer(check=check)
    plugins = {
        kind: describer.describe_registry(REGISTRIES[kind]) for kind in (kinds or REGISTRIES)
    }
    error = describer.cache.save()
    return PluginListing(plugins, describer.from_cache, describer.cache.path, error)
