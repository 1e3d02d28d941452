"""Import modules from a user's local clone of a reference repository, one clone at a time.

The parity scripts in this folder run the reference code itself. They never
download it and the repository holds none of it: the user passes the path of
their own clone (``--wsolevaluation DIR``, ``--bridging-gap DIR``).

Both references are flat script folders with the same top-level module names
(``evaluation``, ``data_loaders``, ``util``, ``wsol``), so :func:`reference_repo`
puts one clone first on ``sys.path``, and on leaving forgets every module it
imported from there; the objects taken out of it keep working.

The references were written for numpy < 1.24 and import packages that the code
paths run here never use. While a clone is open:

- ``numpy.float`` is the builtin ``float`` again (numpy 1.24 removed that alias);
- ``munch`` and ``tqdm``, when not installed, are small stand-ins: ``Munch`` a
  dict with attribute access (how ``data_loaders.configure_metadata`` uses it),
  ``tqdm`` the identity on an iterable.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


class CloneError(SystemExit):
    """The clone is missing or not the expected repository: exit with a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


class _Munch(dict):
    """Stand-in for ``munch.Munch``: a dict whose keys are also attributes."""

    def __getattr__(self, name: str) -> object:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __setattr__(self, name: str, value: object) -> None:
        self[name] = value


def _stand_in(name: str, **attributes: object) -> types.ModuleType:
    module = types.ModuleType(name, f"wsolkit parity stand-in for {name}")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    return module


def _stand_ins() -> dict[str, types.ModuleType]:
    """Modules for the missing optional imports of the references."""
    modules = {}
    if importlib.util.find_spec("munch") is None:
        modules["munch"] = _stand_in("munch", Munch=_Munch)
    if importlib.util.find_spec("tqdm") is None:
        modules["tqdm"] = _stand_in("tqdm", tqdm=lambda iterable=None, *args, **kwargs: iterable)
    return modules


def check_clone(path: Path, option: str, expected: Iterable[str]) -> Path:
    """``path`` resolved, after checking that it holds the ``expected`` files of the clone."""
    root = Path(path).expanduser().resolve()
    missing = [name for name in expected if not (root / name).is_file()]
    if missing:
        raise CloneError(
            f"{option} {path}: not a clone of the reference repository "
            f"(no {', '.join(missing)}); clone it yourself and pass its folder"
        )
    return root


@contextlib.contextmanager
def reference_repo(root: Path) -> Iterator[None]:
    """Import from the clone at ``root`` inside the block; forget its modules afterwards."""
    root = Path(root).resolve()
    stand_ins = {n: m for n, m in _stand_ins().items() if n not in sys.modules}
    had_float = "float" in np.__dict__
    sys.path.insert(0, str(root))
    sys.modules.update(stand_ins)
    if not had_float:
        np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if name in stand_ins or (origin and Path(origin).resolve().is_relative_to(root)):
                del sys.modules[name]
        if not had_float:
            del np.float  # type: ignore[attr-defined]
