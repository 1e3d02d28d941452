"""The user-facing error family.

Every problem a user can fix (a bad file, an unknown name, an invalid setting)
raises a :class:`WsolkitError` whose message names the file / line / key /
value and says how to fix it. The CLI prints it as one red line and exits with
``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class WsolkitError(Exception):
    """A problem the user can fix; the message is one line that says how."""

    exit_code: int = 1


class UsageError(WsolkitError):
    """The command line itself is wrong (exit code 2, like Typer's own usage errors)."""

    exit_code = 2


class NotImplementedYet(WsolkitError):
    """A command whose engine has not landed yet."""

    exit_code = 2


class SettingsError(WsolkitError):
    """An invalid or unknown setting (from a flag, the environment or a YAML file)."""


class MetadataError(WsolkitError):
    """A malformed metadata file; the message names the file and line."""

    def __init__(self, path: object, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class DataError(WsolkitError):
    """A dataset folder, image or score map that cannot be used as it is."""


class PluginError(WsolkitError):
    """A plugin that is unknown, ambiguous, or failed to load."""
