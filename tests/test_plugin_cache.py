"""The plugin description cache: ``wsolkit list`` reads it instead of importing plugins.

Each fake plugin appends a line to a marker file when it is imported, so a test
counts imports. Between two listings a test forgets what the process imported
(``_new_process``), as a new ``wsolkit`` invocation would start without it.
"""

from __future__ import annotations

import json
import os
import site
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wsolkit import registry
from wsolkit.cli import app
from wsolkit.plugin_cache import PluginCache, cache_path, plugin_files

runner = CliRunner()


def _marked_module(marker: Path, doc: str, tail: str = "") -> str:
    """A plugin module that appends to ``marker`` when imported."""
    return textwrap.dedent(
        f'''
        from pathlib import Path

        with Path({str(marker)!r}).open("a") as _f:
            _f.write("imported\\n")

        class Thing:
            """{doc}"""

            @classmethod
            def plugin_details(cls):
                return {{"answer": 42, "range": (0.0, 1.0)}}
        '''
    ) + textwrap.dedent(tail)


def _imports(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def _new_process(*modules: str) -> None:
    """Forget what this process imported and discovered, like a fresh ``wsolkit`` run."""
    registry.refresh_all()
    for name in modules:
        sys.modules.pop(name, None)


def _list(*args: str) -> dict[str, dict[str, dict]]:
    result = runner.invoke(app, ["list", *args, "--json"])
    assert result.exit_code == 0, result.output
    return {k: {p["name"]: p for p in v} for k, v in json.loads(result.stdout).items()}


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder for this test alone."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("WSOLKIT_CACHE", str(folder))
    return folder


def test_second_listing_reads_the_cache_without_importing(fake_plugin, own_cache, tmp_path):
    marker = tmp_path / "imports.txt"
    fake_plugin(
        "marked-wsol",
        {"wsolkit.methods": {"marked": "marked_mod:Thing"}},
        {"marked_mod": _marked_module(marker, "A marked fake method.")},
    )
    first = _list("methods")["methods"]
    assert _imports(marker) == 1
    assert cache_path().is_file() and cache_path().parent == own_cache
    _new_process("marked_mod")
    second = _list("methods")["methods"]
    assert _imports(marker) == 1  # read from the cache: not imported again
    assert second == first
    assert second["marked"]["description"] == "A marked fake method."
    assert second["marked"]["details"] == {"answer": 42, "range": [0.0, 1.0]}
    assert second["marked"]["version"] == "0.1"
    assert second["bridging-gap"]["alias_of"] == "aligned-eil"  # aliases survive the cache
    table = runner.invoke(app, ["list", "methods"])
    assert "description(s) from the cache" in table.stdout


def test_editing_a_plugin_file_invalidates_its_entry_only(fake_plugin, own_cache, tmp_path):
    marker, other_marker = tmp_path / "imports.txt", tmp_path / "other.txt"
    root = fake_plugin(
        "marked-wsol",
        {"wsolkit.methods": {"marked": "marked_mod:Thing", "other": "other_mod:Thing"}},
        {
            "marked_mod": _marked_module(marker, "Before the edit."),
            "other_mod": _marked_module(other_marker, "Untouched."),
        },
    )
    _list("methods")
    _new_process("marked_mod", "other_mod")
    source = root / "marked_mod.py"
    source.write_text(_marked_module(marker, "After the edit, a longer docstring."))
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    listed = _list("methods")["methods"]
    assert listed["marked"]["description"] == "After the edit, a longer docstring."
    assert (_imports(marker), _imports(other_marker)) == (2, 1)


def test_check_imports_every_plugin_again(fake_plugin, own_cache, tmp_path):
    marker = tmp_path / "imports.txt"
    fake_plugin(
        "marked-wsol",
        {"wsolkit.backbones": {"markedbone": "marked_mod:Thing"}},
        {"marked_mod": _marked_module(marker, "A marked fake backbone.")},
    )
    _list("backbones")
    _new_process("marked_mod")
    _list("backbones", "--check")
    assert _imports(marker) == 2
    _new_process("marked_mod")
    _list("backbones")
    assert _imports(marker) == 2  # --check rewrote the cache


def test_broken_plugin_stays_failed_from_the_cache(fake_plugin, own_cache, tmp_path):
    marker = tmp_path / "imports.txt"
    root = fake_plugin(
        "broken-wsol",
        {"wsolkit.datasets": {"brokenset": "broken_mod:Thing"}},
        {"broken_mod": _marked_module(marker, "Broken.", "raise RuntimeError('boom')\n")},
    )
    first = _list("datasets")["datasets"]["brokenset"]
    assert first["status"] == "failed" and "RuntimeError: boom" in first["error"]
    _new_process("broken_mod")
    second = _list("datasets")["datasets"]["brokenset"]
    assert _imports(marker) == 1
    assert second == first
    table = runner.invoke(app, ["list", "datasets"])
    assert "failed" in table.stdout and "1 plugin(s) failed" in table.stdout
    # The fix is seen at once: editing the file changes its fingerprint.
    (root / "broken_mod.py").write_text(_marked_module(marker, "Fixed now."))
    _new_process("broken_mod")
    fixed = _list("datasets")["datasets"]["brokenset"]
    assert (fixed["status"], fixed["description"]) == ("ok", "Fixed now.")


def test_installing_a_missing_dependency_rechecks_a_failed_plugin(
    fake_plugin, own_cache, tmp_path, monkeypatch
):
    site_folder = tmp_path / "site-packages"
    site_folder.mkdir()
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(site_folder)])
    monkeypatch.setattr(site, "ENABLE_USER_SITE", False)
    monkeypatch.syspath_prepend(str(site_folder))
    fake_plugin(
        "needy-wsol",
        {"wsolkit.datasets": {"needy": "needy_mod:Thing"}},
        {"needy_mod": "import acme_dependency\nThing = acme_dependency.Thing\n"},
    )
    assert _list("datasets")["datasets"]["needy"]["status"] == "failed"
    (site_folder / "acme_dependency.py").write_text('class Thing:\n    """Needs acme."""\n')
    (site_folder / "acme_dependency-1.0.dist-info").mkdir()
    _new_process("needy_mod", "acme_dependency")
    try:
        assert _list("datasets")["datasets"]["needy"]["status"] == "ok"
    finally:
        sys.modules.pop("acme_dependency", None)


def test_unwritable_cache_folder_never_breaks_list(fake_plugin, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WSOLKIT_CACHE", str(blocker / "cache"))
    fake_plugin(
        "acme-wsol",
        {"wsolkit.datasets": {"acmeset": "acme_mod:Thing"}},
        {"acme_mod": 'class Thing:\n    """Acme."""\n'},
    )
    result = runner.invoke(app, ["list", "datasets", "--json"])
    assert result.exit_code == 0, result.output
    names = {p["name"]: p for p in json.loads(result.stdout)["datasets"]}
    assert names["acmeset"]["description"] == "Acme." and "cub" in names
    assert "plugin cache was not written" in result.stderr
    assert result.stderr.count("\n") == 1


def test_malformed_cache_file_is_ignored_and_rewritten(fake_plugin, own_cache, tmp_path):
    fake_plugin(
        "acme-wsol",
        {"wsolkit.datasets": {"acmeset": "acme_mod:Thing"}},
        {"acme_mod": 'class Thing:\n    """Acme."""\n'},
    )
    own_cache.mkdir()
    for junk in ("{not json", '["a list"]', '{"format": 1, "entries": {"x": {"record": 3}}}'):
        cache_path().write_text(junk)
        _new_process("acme_mod")
        assert _list("datasets")["datasets"]["acmeset"]["description"] == "Acme."
        assert json.loads(cache_path().read_text())["format"] == 1


def test_a_damaged_entry_is_described_again(fake_plugin, own_cache, tmp_path):
    marker = tmp_path / "imports.txt"
    fake_plugin(
        "marked-wsol",
        {"wsolkit.datasets": {"markedset": "marked_mod:Thing"}},
        {"marked_mod": _marked_module(marker, "Marked.")},
    )
    _list("datasets")
    data = json.loads(cache_path().read_text())
    slot = "wsolkit.datasets markedset marked-wsol"
    data["entries"][slot]["record"]["info"]["status"] = "maybe"
    cache_path().write_text(json.dumps(data))
    _new_process("marked_mod")
    assert _list("datasets")["datasets"]["markedset"]["status"] == "ok"
    assert _imports(marker) == 2


def test_autoload_disabled_lists_own_plugins_from_the_cache(fake_plugin, own_cache, monkeypatch):
    fake_plugin(
        "acme-wsol",
        {"wsolkit.datasets": {"acmeset": "acme_mod:Thing"}},
        {"acme_mod": 'class Thing:\n    """Acme."""\n'},
    )
    assert "acmeset" in _list("datasets")["datasets"]
    monkeypatch.setenv(registry.DISABLE_AUTOLOAD_ENV, "1")
    _new_process("acme_mod")
    listing = registry.plugin_listing(["datasets"])
    assert "acmeset" not in {info.name for info in listing.plugins["datasets"]}
    assert listing.from_cache == len(listing.plugins["datasets"])
    monkeypatch.delenv(registry.DISABLE_AUTOLOAD_ENV)
    _new_process()
    listing = registry.plugin_listing(["datasets"])  # the third-party entry was kept
    assert listing.from_cache == len(listing.plugins["datasets"])
    assert "acmeset" in {info.name for info in listing.plugins["datasets"]}


def test_describe_refreshes_the_entry(fake_plugin, own_cache, tmp_path):
    marker = tmp_path / "imports.txt"
    fake_plugin(
        "marked-wsol",
        {"wsolkit.methods": {"marked": "marked_mod:Thing"}},
        {"marked_mod": _marked_module(marker, "Marked.")},
    )
    assert registry.methods.describe("marked").status == "ok"
    entries = PluginCache.open().entries
    assert entries["wsolkit.methods marked marked-wsol"]["record"]["info"]["description"] == (
        "Marked."
    )


def test_plugin_files_are_found_without_importing(tmp_path, monkeypatch):
    marker = tmp_path / "imports.txt"
    package = tmp_path / "acme_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write('x')\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("X = 1\n")
    (package / "__pycache__" / "junk.pyc").write_bytes(b"")
    (package / "README.txt").write_text("not code")
    (tmp_path / "acme_single.py").write_text("Y = 2\n")
    spaced = tmp_path / "acme_ns" / "inner"  # a namespace package holding a regular one
    spaced.mkdir(parents=True)
    (spaced / "__init__.py").write_text("")
    (spaced / "code.py").write_text("Z = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert plugin_files("acme_pkg.sub.mod:X") == [
        package / "__init__.py",
        package / "sub" / "__init__.py",
        package / "sub" / "mod.py",
    ]
    assert not marker.exists() and "acme_pkg" not in sys.modules
    assert plugin_files("acme_single:Y") == [tmp_path / "acme_single.py"]
    assert plugin_files("acme_ns.inner.code:Z") == [spaced / "__init__.py", spaced / "code.py"]
    assert plugin_files("acme_not_installed_anywhere:Thing") is None


def test_wsolkit_own_plugins_resolve_to_the_source_tree() -> None:
    files = plugin_files("wsolkit.methods.cam:CAM") or []
    root = Path(registry.__file__).parent
    assert root / "methods" / "cam.py" in files and root / "registry.py" in files
