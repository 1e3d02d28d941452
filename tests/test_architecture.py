"""docs/architecture.md stays true: every import of the package follows its layer table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "wsolkit"
DOC = ROOT / "docs" / "architecture.md"


def layer_table() -> tuple[dict[str, str], dict[str, set[str]]]:
    """``package → layer`` and ``layer → layers it may import``, read from the doc's table."""
    of: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[a-z_]+`(, `[a-z_]+`)*", cells[1]):
            continue
        layer = cells[0]
        for package in re.findall(r"`([a-z_]+)`", cells[1]):
            of[package] = layer
        allowed[layer] = {c.strip() for c in cells[2].split(",")}
    return of, allowed


def package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import in a file, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "wsolkit":  # from wsolkit import registry
                found += [(node.lineno, f"wsolkit.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_the_doc_names_every_package() -> None:
    of, allowed = layer_table()
    packages = {package_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__"}
    packages -= {"configs"}
    assert packages <= set(of), f"packages missing from docs/architecture.md: {packages - set(of)}"
    assert set(of.values()) == set(allowed) and len(allowed) >= 9


def test_every_import_follows_the_layer_table() -> None:
    of, allowed = layer_table()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        package = package_of(path)
        if package in ("__init__", "__main__"):
            continue
        layer = of[package]
        for line, module in imports(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            if top == "typer" and package != "cli":
                wrong.append(f"{where} imports typer (only cli may)")
            if top == "rich" and package not in ("cli", "report"):
                wrong.append(f"{where} imports rich (only cli and report may)")
            if top != "wsolkit" or module == "wsolkit":
                continue
            target = module.split(".")[1]
            if target in ("__init__", "__version__") or target == package:
                continue
            if target not in of:
                wrong.append(f"{where} imports wsolkit.{target}, which the doc does not place")
            elif of[target] not in allowed[layer] | {layer}:
                wrong.append(f"{where}: {package} ({layer}) imports {target} ({of[target]})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)
