"""Shared fixtures: a clean WSOLKIT_* environment, fake plugin distributions on sys.path."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wsolkit import registry


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wsolkit-cache")


@pytest.fixture(autouse=True)
def clean_wsolkit_environment(monkeypatch: pytest.MonkeyPatch, _session_cache: Path) -> None:
    """Tests never see the developer's ``WSOLKIT_*`` variables (``WSOLKIT_OPTIM__EPOCHS=3
    pytest`` must pass) and never write to their cache; a test sets what it needs with
    ``monkeypatch.setenv``. The golden/doc refresh switches (``WSOLKIT_REGEN_*``) stay."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("WSOLKIT_") and not name.upper().startswith("WSOLKIT_REGEN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WSOLKIT_CACHE", str(_session_cache))


@pytest.fixture
def fake_plugin(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Install a fake distribution (a real ``*.dist-info`` folder) on ``sys.path``.

    ``fake_plugin("pkgname", {"wsolkit.methods": {"name": "module:attr"}}, modules={...})``
    writes the dist-info and optional module sources, refreshes the registries, and
    removes everything again after the test.
    """
    added: list[str] = []
    module_names: list[str] = []

    def install(
        dist: str,
        groups: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
    ) -> Path:
        root = tmp_path / f"site-{dist}"
        info = root / f"{dist}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = []
        for group, entries in groups.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {target}" for name, target in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for name, source in (modules or {}).items():
            (root / f"{name}.py").write_text(textwrap.dedent(source))
            module_names.append(name)
        sys.path.insert(0, str(root))
        added.append(str(root))
        registry.refresh_all()
        return root

    try:
        yield install
    finally:
        for path in added:
            sys.path.remove(path)
        for name in module_names:
            sys.modules.pop(name, None)
        registry.refresh_all()
