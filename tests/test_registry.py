from __future__ import annotations

import pytest

from wsolkit import registry
from wsolkit.errors import PluginError

GOOD_MODULE = '''
class Thing:
    """A fake backbone for tests."""

    def __init__(self, *, size=1):
        self.size = size
'''


def test_builtins_register_through_entry_points() -> None:
    assert {"vgg16", "resnet50", "inception_v3", "tiny"} <= set(registry.backbones.names())
    assert {"cam", "has", "cutmix", "adl", "eil", "aligned-eil", "bridging-gap"} <= set(
        registry.methods.names()
    )
    assert {"cub", "imagenet", "openimages", "folder", "synthetic"} <= set(
        registry.datasets.names()
    )
    assert registry.backbones.package_of("vgg16") == "wsolkit"
    assert {
        "cam",
        "grad-cam",
        "grad-cam++",
        "xgrad-cam",
        "layer-cam",
        "score-cam",
        "eigen-cam",
        "bagcams",
    } <= set(registry.extractors.names())
    assert registry.extractors.package_of("grad-cam++") == "wsolkit"
    assert list(registry.REGISTRIES) == [
        "backbones",
        "methods",
        "datasets",
        "extractors",
        "loggers",
    ]


def test_unknown_extractor_lists_them_and_points_to_the_listing() -> None:
    with pytest.raises(PluginError) as info:
        registry.extractors.load("gradcam")
    message = str(info.value)
    assert "unknown extractor 'gradcam'. Did you mean 'grad-cam'?" in message
    assert "bagcams" in message and "(see `wsolkit list extractors`)" in message


def test_available_filters_with_wildcards() -> None:
    assert registry.backbones.available(include="res*") == ["resnet50"]
    names = registry.methods.available(exclude=["*eil", "bridging-*"])
    assert "eil" not in names and "aligned-eil" not in names and "cam" in names


def test_unknown_name_lists_available_and_suggests() -> None:
    with pytest.raises(PluginError) as info:
        registry.backbones.load("resnet5")
    message = str(info.value)
    assert "unknown backbone 'resnet5'" in message
    assert "Did you mean 'resnet50'?" in message
    assert "vgg16" in message and "tiny" in message


def test_third_party_plugin_loads_and_creates(fake_plugin) -> None:
    fake_plugin(
        "acme-wsol", {"wsolkit.backbones": {"acme": "acme_mod:Thing"}}, {"acme_mod": GOOD_MODULE}
    )
    assert "acme" in registry.backbones
    assert registry.backbones.package_of("acme") == "acme-wsol"
    thing = registry.backbones.create("acme", size=3)
    assert thing.size == 3
    info = registry.backbones.describe("acme")
    assert (info.status, info.package, info.description) == (
        "ok",
        "acme-wsol",
        "A fake backbone for tests.",
    )


def test_broken_plugin_is_reported_by_name_and_isolated(fake_plugin) -> None:
    fake_plugin(
        "broken-wsol",
        {"wsolkit.methods": {"broken": "broken_mod:Missing"}},
        {"broken_mod": "raise RuntimeError('boom at import')\n"},
    )
    with pytest.raises(PluginError) as info:
        registry.methods.load("broken")
    message = str(info.value)
    assert "'broken'" in message and "'broken-wsol'" in message
    assert "RuntimeError: boom at import" in message
    described = registry.methods.describe("broken")
    assert described.status == "failed" and "boom at import" in (described.error or "")
    # Every other name still works.
    assert registry.datasets.describe("cub").package == "wsolkit"


def test_two_packages_claiming_one_name_is_an_error_naming_both(fake_plugin) -> None:
    fake_plugin(
        "first-wsol",
        {"wsolkit.backbones": {"clash": "first_mod:Thing"}},
        {"first_mod": GOOD_MODULE},
    )
    fake_plugin(
        "second-wsol",
        {"wsolkit.backbones": {"clash": "second_mod:Thing"}},
        {"second_mod": GOOD_MODULE},
    )
    with pytest.raises(PluginError) as info:
        registry.backbones.load("clash")
    message = str(info.value)
    assert "'first-wsol'" in message and "'second-wsol'" in message
    assert "more than one package" in message


def test_autoload_can_be_disabled(fake_plugin, monkeypatch) -> None:
    fake_plugin(
        "acme-wsol", {"wsolkit.backbones": {"acme": "acme_mod:Thing"}}, {"acme_mod": GOOD_MODULE}
    )
    monkeypatch.setenv(registry.DISABLE_AUTOLOAD_ENV, "1")
    registry.refresh_all()
    assert "acme" not in registry.backbones.names()
    assert "vgg16" in registry.backbones.names()


def test_alias_is_shown_as_alias() -> None:
    infos = {i.name: i for i in registry.methods.describe_all()}
    assert infos["aligned-eil"].status == "ok", infos["aligned-eil"].error
    assert infos["bridging-gap"].alias_of == "aligned-eil"
    assert infos["aligned-eil"].alias_of is None


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("import sys\nsys.exit(3)\n", "it called sys.exit(3) while being imported"),
        ("raise SystemExit('no GPU here')\n", "it called sys.exit('no GPU here')"),
        ("class Stop(BaseException):\n    pass\nraise Stop('halt')\n", "Stop: halt"),
    ],
)
def test_plugins_that_exit_at_import_are_failures_like_any_other(fake_plugin, source, cause):
    fake_plugin(
        "exiting-wsol", {"wsolkit.methods": {"exiter": "exit_mod:Thing"}}, {"exit_mod": source}
    )
    described = {info.name: info for info in registry.methods.describe_all()}
    assert described["exiter"].status == "failed"
    assert cause in (described["exiter"].error or "")
    assert described["cam"].status == "ok"
    with pytest.raises(PluginError) as info:
        registry.methods.load("exiter")
    message = str(info.value)
    assert "'exiter'" in message and "'exiting-wsol'" in message and cause in message


def test_cached_description_equals_the_imported_one(fake_plugin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WSOLKIT_CACHE", str(tmp_path / "cache"))
    fake_plugin(
        "acme-wsol", {"wsolkit.backbones": {"acme": "acme_mod:Thing"}}, {"acme_mod": GOOD_MODULE}
    )
    imported = registry.backbones.describe_all()
    registry.refresh_all()
    listing = registry.plugin_listing(["backbones"])
    assert listing.from_cache == len(imported) and listing.cache_error is None
    assert listing.plugins["backbones"] == imported
    assert registry.methods.describe_all(cached=True) == registry.methods.describe_all()
