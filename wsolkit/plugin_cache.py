"""The plugin description cache: ``wsolkit list`` without importing plugins (or torch).

Describing a plugin means importing it, and the built-in ones import torch
(seconds). What a description says changes only when the plugin's code or the
installed packages change, so :mod:`wsolkit.registry` keeps the descriptions in
``<cache folder>/plugins-<environment>.json`` (one file per Python environment,
so two virtual environments sharing the cache folder do not overwrite each
other), one entry per (entry-point group, name, distribution). Each entry holds
the plugin's description, details, status and error, and a key that is checked
without importing anything:

* the distribution's name and version and the entry point's target;
* a fingerprint (relative path, size and mtime of each file) of the plugin's
  code. The files are found without importing: ``importlib.util.find_spec`` of
  the target's *top-level* name only locates it (through the editable-install
  finders too) and imports nothing; then the files under that package folder
  are walked (a single-module plugin is that one file). The whole top-level
  package counts, because a description may come from any module it imports;
* a fingerprint of the environment: the names of the distributions and ``.pth``
  files in the site-packages folders, so installing, upgrading or removing a
  package (a plugin's missing dependency, say) re-checks every plugin once.

A stale or missing entry is described again by importing that plugin only.
The cache is best effort: an unreadable or malformed file counts as empty, and
:meth:`PluginCache.save` reports an unwritable folder instead of raising.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import site
import sys
from pathlib import Path
from typing import Any

FORMAT = 1
_INSTALL_MARKERS = (".dist-info", ".egg-info", ".egg-link", ".pth")
_CODE_SUFFIXES = tuple(importlib.machinery.all_suffixes())


def cache_path() -> Path:
    """This Python environment's cache file: ``<cache folder>/plugins-<hash of sys.prefix>.json``.

    The folder is ``$WSOLKIT_CACHE``, else the user's cache folder (see
    :func:`wsolkit.cache.default_cache_dir`).
    """
    from wsolkit.cache import default_cache_dir

    environment = hashlib.sha1(os.path.realpath(sys.prefix).encode()).hexdigest()[:12]
    return default_cache_dir() / f"plugins-{environment}.json"


def _code_files(folder: Path, walked: dict[Path, list[Path]] | None = None) -> list[Path]:
    """Module files (source, bytecode, extensions) under ``folder``, ``__pycache__`` skipped."""
    if walked is not None and folder in walked:
        return walked[folder]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        found += [os.path.join(root, f) for f in files if f.endswith(_CODE_SUFFIXES)]
    result = [Path(f) for f in sorted(found)]
    if walked is not None:
        walked[folder] = result
    return result


def plugin_files(target: str, walked: dict[Path, list[Path]] | None = None) -> list[Path] | None:
    """The files of the code an entry-point target (``module.sub:attr``) lives in.

    Nothing is imported: ``find_spec`` of a top-level name locates it without
    executing it. For a regular package that is every module under its folder;
    for a namespace package the walk starts at the first regular package (or
    module) on the target's path; a top-level module is its one file. ``None``
    when the code cannot be located (a missing module: the fingerprint then
    changes as soon as it appears). ``walked`` memoizes folder walks.
    """
    parts = target.partition(":")[0].strip().split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is None:
        origin = spec.origin if spec.has_location else None
        return [Path(origin)] if origin else []
    folders = [Path(p) for p in spec.submodule_search_locations]
    if spec.origin is not None and spec.has_location:  # a regular package
        return [f for folder in folders for f in _code_files(folder, walked)]
    for part in parts[1:]:  # a namespace package: descend to where the code is
        modules = [
            folder / f"{part}{suffix}"
            for folder in folders
            for suffix in _CODE_SUFFIXES
            if (folder / f"{part}{suffix}").is_file()
        ]
        folders = [folder / part for folder in folders if (folder / part).is_dir()]
        if modules and not folders:
            return modules
        regular = [folder for folder in folders if (folder / "__init__.py").is_file()]
        if regular:
            return [f for folder in regular for f in _code_files(folder, walked)]
    return [f for folder in folders for f in _code_files(folder, walked)]


class Fingerprints:
    """File and environment fingerprints, each computed once per listing."""

    def __init__(self) -> None:
        self._walked: dict[Path, list[Path]] = {}
        self._digests: dict[tuple[Path, ...] | None, str] = {}
        self._environment: str | None = None

    def files(self, target: str) -> str:
        """A digest of the paths, sizes and mtimes of :func:`plugin_files` of ``target``."""
        found = plugin_files(target, self._walked)
        files = tuple(found) if found is not None else None
        if files not in self._digests:
            digest = hashlib.sha1(b"<not found>" if files is None else b"")
            for path in files or ():
                try:
                    stat = path.stat()
                    digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                except OSError:
                    digest.update(f"{path}\0<unreadable>\n".encode())
            self._digests[files] = digest.hexdigest()
        return self._digests[files]

    def environment(self) -> str:
        """A digest of what is installed: distribution and ``.pth`` names in the site folders."""
        if self._environment is None:
            folders = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
            if site.ENABLE_USER_SITE:
                folders.append(site.getusersitepackages())
            digest = hashlib.sha1()
            for folder in dict.fromkeys(folders):
                try:
                    names = sorted(n for n in os.listdir(folder) if n.endswith(_INSTALL_MARKERS))
                except OSError:
                    names = []
                digest.update("\0".join([folder, *names]).encode() + b"\n")
            self._environment = digest.hexdigest()
        return self._environment


class PluginCache:
    """The entries of one cache file; ``lookup`` and ``store`` by (group, name, package) and key.

    An entry is ``{"key": {...}, "record": {...}}``; the record is whatever
    :mod:`wsolkit.registry` stores (a plugin's description and status). A record
    is returned only when the stored key equals the key given.
    """

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = dict(entries or {})
        self.changed = False

    @classmethod
    def open(cls, path: Path | None = None) -> PluginCache:
        """Read ``path`` (default :func:`cache_path`); a missing or malformed file is empty."""
        path = cache_path() if path is None else path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return cls(path)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return cls(path)
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return cls(path)
        return cls(path, {k: v for k, v in entries.items() if isinstance(v, dict)})

    @staticmethod
    def _slot(group: str, name: str, package: str) -> str:
        return f"{group} {name} {package}"

    def lookup(self, group: str, name: str, package: str, key: dict[str, str]) -> Any:
        """The record stored for this plugin under exactly ``key``, else ``None``."""
        entry = self.entries.get(self._slot(group, name, package))
        if entry is None or entry.get("key") != key:
            return None
        return entry.get("record")

    def store(self, group: str, name: str, package: str, key: dict[str, str], record: Any) -> None:
        """Remember ``record`` for this plugin under ``key`` (written by :meth:`save`)."""
        slot = self._slot(group, name, package)
        entry = {"key": key, "record": record}
        if self.entries.get(slot) != entry:
            self.entries[slot] = entry
            self.changed = True

    def prune(self, group: str, keep: set[tuple[str, str]]) -> None:
        """Forget the entries of ``group`` whose (name, package) is not in ``keep``."""
        slots = {self._slot(group, name, package) for name, package in keep}
        for slot in [s for s in self.entries if s.startswith(f"{group} ") and s not in slots]:
            del self.entries[slot]
            self.changed = True

    def save(self) -> str | None:
        """Write the file atomically if anything changed; the reason in words if that failed.

        A cache that cannot be written never breaks a command: the caller may
        mention the returned reason, and the next run describes plugins again.
        """
        if not self.changed:
            return None
        from wsolkit.errors import WsolkitError
        from wsolkit.io import atomic_write_text

        text = json.dumps(
            {"format": FORMAT, "entries": dict(sorted(self.entries.items()))},
            indent=1,
            ensure_ascii=False,
            default=str,
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, text + "\n")
        except (OSError, WsolkitError) as exc:
            if isinstance(exc, WsolkitError):
                return " ".join(str(exc).split())
            return f"{self.path}: {exc.strerror or exc}"
        self.changed = False
        return None
