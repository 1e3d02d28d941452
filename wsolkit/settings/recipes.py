"""Recipes shipped in ``configs/`` (installed as ``wsolkit/configs``), found by name or path."""

from __future__ import annotations

import difflib
from pathlib import Path

from wsolkit.errors import SettingsError

RECIPE_DIR = Path(__file__).resolve().parents[1] / "configs"


def available_recipes() -> list[str]:
    """Names of the shipped recipes (file names without ``.yaml``)."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def resolve_config(value: str | Path) -> Path:
    """A ``--config`` value: an existing file, or the name of a shipped recipe."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    name = path.name[:-5] if path.name.endswith(".yaml") else path.name
    shipped = RECIPE_DIR / f"{name}.yaml"
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    names = available_recipes()
    hint = difflib.get_close_matches(name, names, n=1)
    suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
    raise SettingsError(
        f"config file {value} does not exist, and no shipped recipe has that name.{suggestion} "
        f"Shipped recipes: {', '.join(names)}"
    )
