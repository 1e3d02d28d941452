"""The errors a CAM store raises: one line that names the file and the fix."""

from __future__ import annotations

from pathlib import Path

from wsolkit.errors import DataError

READER_FIX = "export it again"


class CamStoreError(DataError):
    """A CAM store that cannot be read, resumed or written as asked.

    The message starts with the store's path and ends with what to do.
    """

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
        self.message = message


class DamagedStoreError(CamStoreError):
    """A store whose HDF5 structure or committed rows cannot be read (a damaged file).

    ``problem`` says what is wrong; ``fix`` what to do (readers: export it
    again; a writer of the same export starts the store over by itself).
    """

    def __init__(self, path: Path | str, problem: str, fix: str = READER_FIX) -> None:
        super().__init__(path, f"{problem}; {fix}")
        self.problem = problem
