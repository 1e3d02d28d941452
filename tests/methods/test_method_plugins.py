"""Method plugins: registry, hyperparameter models, descriptions, compatibility errors.

The per-method tests run over wsolkit's own methods, read from the registry;
``ALIASES`` and ``DEFAULTS`` say what is expected of each name and are checked
to cover the registry exactly.
"""

from __future__ import annotations

import json

import pytest
from registry_builtins import assert_covers, builtin_aliases, builtin_names

from wsolkit.errors import SettingsError
from wsolkit.methods import IncompatibleBackboneError, WsolMethod
from wsolkit.methods.aligned_eil import AlignedEIL, AlignedEILParams
from wsolkit.registry import backbones, methods

NAMES = builtin_names(methods)
ALIASES = {"bridging-gap": "aligned-eil"}  # {alias: the method it names}
# Every method's published hyperparameter defaults (Params().model_dump()).
DEFAULTS: dict[str, dict[str, object]] = {
    "acol": {"acol_threshold": 0.7},
    "adl": {"drop_rate": 0.75, "gamma": 0.9, "positions": None},
    "aligned-eil": {
        "lambda_sim": 0.5,
        "fg_threshold": 0.6,
        "bg_threshold": 0.1,
        "lambda_norm": 0.15,
        "norm_region": "max",
        "lambda_drop": 3.0,
        "drop_threshold": 0.8,
        "drop_prob": 0.5,
        "split_after": None,
    },
    "cam": {},
    "cutmix": {"beta": 1.0, "prob": 1.0},
    "eil": {"erase_threshold": 0.8, "sigma": 1.0, "split_after": None},
    "has": {"grid_size": 4, "drop_rate": 0.5},
    "spg": {
        "spg_threshold_1h": 0.7,
        "spg_threshold_1l": 0.01,
        "spg_threshold_2h": 0.5,
        "spg_threshold_2l": 0.05,
        "spg_threshold_3h": 0.7,
        "spg_threshold_3l": 0.1,
    },
}


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_described(name: str) -> None:
    cls = methods.load(name)
    assert issubclass(cls, WsolMethod) and cls.name == name
    assert cls.description and cls.Params.model_config["extra"] == "forbid"
    details = cls.plugin_details()
    json.dumps(details)
    fields = cls.Params.model_fields
    assert [h["name"] for h in details["hyperparameters"]] == list(fields)
    for row in details["hyperparameters"]:
        assert set(row) == {"name", "type", "default", "range", "description"}
        assert row["description"], row
    assert isinstance(methods.create(name), cls)


def test_defaults_cover_the_registry() -> None:
    assert_covers(DEFAULTS, methods, "DEFAULTS in tests/methods/test_method_plugins.py")


def test_aliases() -> None:
    assert builtin_aliases(methods) == ALIASES, (
        "ALIASES in tests/methods/test_method_plugins.py must list every built-in method alias"
    )
    for alias, name in ALIASES.items():
        assert methods.load(alias) is methods.load(name)


@pytest.mark.parametrize("name", NAMES)
def test_published_defaults(name: str) -> None:
    assert methods.create(name).params.model_dump() == DEFAULTS[name]


def test_published_defaults_for_resnet50() -> None:
    r = AlignedEIL.published("resnet50")
    assert (r.fg_threshold, r.bg_threshold, r.lambda_norm, r.lambda_drop, r.drop_prob) == (
        0.4,
        0.2,
        0.05,
        2.0,
        0.25,
    )


def test_hyperparameters_from_instance_mapping_and_keywords() -> None:
    params = AlignedEILParams(lambda_sim=0.0)
    assert AlignedEIL(params).params.lambda_sim == 0.0
    assert AlignedEIL({"drop_prob": 0.25}, lambda_drop=2.0).params.drop_prob == 0.25
    assert AlignedEIL(params, lambda_norm=0.0).params.lambda_norm == 0.0


def test_range_and_typo_errors_are_one_line() -> None:
    with pytest.raises(SettingsError) as info:
        methods.create("aligned-eil", drop_prob=1.5)
    assert str(info.value).startswith(
        "invalid setting method.drop_prob = 1.5 (method 'aligned-eil')"
    )
    with pytest.raises(
        SettingsError, match="unknown hyperparameter method.lamda_sim.*'lambda_sim'"
    ):
        methods.create("aligned-eil", lamda_sim=0.5)
    with pytest.raises(SettingsError, match="norm_region"):
        methods.create("aligned-eil", norm_region="mean")
    with pytest.raises(SettingsError, match="Its hyperparameters: none"):
        methods.create("cam", sigma=1.0)


def test_schema_ranges() -> None:
    rows = {r["name"]: r for r in AlignedEIL.hyperparameters()}
    assert rows["drop_prob"]["range"] == "[0.0, 1.0]"
    assert rows["norm_region"]["range"] == "one of: max, target"
    assert rows["norm_region"]["type"] == "str"
    assert rows["lambda_drop"]["default"] == 3.0


def test_aligned_eil_needs_a_linear_head() -> None:
    net = backbones.create("inception_v3", num_classes=3)
    with pytest.raises(IncompatibleBackboneError) as info:
        methods.create("aligned-eil").build(net)
    message = str(info.value)
    assert "needs a linear head" in message and "'inception_v3'" in message
    assert "vgg16, resnet50, tiny" in message


def test_split_point_errors_list_the_stages() -> None:
    net = backbones.create("tiny", num_classes=3)
    with pytest.raises(IncompatibleBackboneError, match="no inner stage 'conv9'.*conv1, conv2"):
        methods.create("eil", split_after="conv9").build(net)
    with pytest.raises(IncompatibleBackboneError, match="no inner stage 'conv6'"):
        methods.create("aligned-eil", split_after="conv6").build(net)  # the last stage
    with pytest.raises(
        IncompatibleBackboneError, match="method 'adl' needs ADL positions.*'conv5'"
    ):
        methods.create("adl", positions=["conv1", "conv5"]).build(net)
