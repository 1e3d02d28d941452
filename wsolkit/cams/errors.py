"""The error a CAM store raises: one line that names the file and the fix."""

from __future__ import annotations

from pathlib import Path

from wsolkit.errors import DataError


class CamStoreError(DataError):
    """A CAM store that cannot be read, resumed or written as asked.

    The message starts with the store's path and ends with what to do.
    """

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
