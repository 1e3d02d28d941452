"""The interface of a run logger (a ``wsolkit.loggers`` plugin) and the check run before training.

A logger is a :class:`~wsolkit.engine.callbacks.Callbacks` that feeds a run tracker beside
``metrics.jsonl`` (which stays the source of truth). It is built with the resolved settings
before anything exists on disk, learns its run directory in ``on_train_start`` (``info["run"]``),
receives every callback on rank 0, and is closed once at the end, whether training finished or
failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any, ClassVar

from wsolkit.engine.callbacks import Callbacks
from wsolkit.errors import PluginError, SettingsError
from wsolkit.registry import loggers as registry


class RunLogger(Callbacks):
    """Base of run loggers: override the callbacks you log and :meth:`close`.

    ``requires`` names the modules the logger imports (checked before training, without
    importing them); ``install`` is what the error tells the user to ``pip install``.
    """

    requires: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str | None] = None

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @classmethod
    def needed(cls) -> tuple[str, ...]:
        """The modules this configuration needs (default: all of :attr:`requires`)."""
        return cls.requires

    @classmethod
    def missing(cls) -> list[str]:
        """The modules of :meth:`needed` that are not installed (nothing is imported)."""
        return [m for m in cls.needed() if find_spec(m) is None]

    @classmethod
    def plugin_details(cls) -> dict[str, Any]:
        """What ``wsolkit list loggers --json`` shows: the modules it uses and those missing."""
        missing = [m for m in cls.requires if find_spec(m) is None]
        return {"requires": list(cls.requires), "missing": missing}

    def close(self, failure: BaseException | None) -> None:
        """Flush and release the tracker; ``failure`` is what ended training, if it failed."""


def check_loggers(names: Sequence[str]) -> list[tuple[str, type[RunLogger]]]:
    """The logger classes of ``runtime.loggers``, checked without touching the disk.

    An unknown name (listing the known ones), a plugin that fails to import, or a missing
    package raises :class:`SettingsError` naming ``runtime.loggers``.
    """
    found: list[tuple[str, type[RunLogger]]] = []
    for name in dict.fromkeys(names):  # a name given twice is one logger
        try:
            cls = registry.load(name)
        except PluginError as exc:
            raise SettingsError(f"runtime.loggers: {exc}") from None
        missing = cls.missing() if isinstance(cls, type) and issubclass(cls, RunLogger) else []
        if missing:
            package = missing[0]
            install = cls.install or package
            raise SettingsError(
                f"runtime.loggers: '{name}' needs the {package} package: pip install '{install}'"
            )
        found.append((name, cls))
    return found
