"""Rename rules: matching, block-index shifts, drops, layout changes, inversion, ``module``."""

from __future__ import annotations

import pytest
import torch

from wsolkit.checkpoints.rules import (
    CheckpointImportError,
    Rule,
    apply_rules,
    invert_key,
    invert_rules,
    map_key,
    strip_module,
)

SHIFT = Rule("features.", "backbone.features.", range(23, 29), +1)
SQUEEZE = Rule("classifier.fc.", "backbone.head.fc.", reshape="conv1x1-to-linear")
DROP = Rule("extractor.fc.", None, why="never called")
KEEP = Rule("", "backbone.")
RULES = (SQUEEZE, DROP, SHIFT, KEEP)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("features.23.weight", "backbone.features.24.weight"),
        ("features.28.bias", "backbone.features.29.bias"),
        ("features.22.weight", "backbone.features.22.weight"),  # outside the range: catch-all
        ("features.29.weight", "backbone.features.29.weight"),
        ("features.weight", "backbone.features.weight"),  # no block index
        ("classifier.fc.bias", "backbone.head.fc.bias"),
        ("extractor.fc.weight", None),
    ],
)
def test_the_first_matching_rule_renames(key: str, expected: str | None) -> None:
    assert map_key(key, RULES)[0] == expected


def test_no_rule_and_a_dropping_rule_are_told_apart() -> None:
    assert map_key("fc.weight", (SHIFT,)) == (None, None)
    assert map_key("extractor.fc.bias", RULES) == (None, DROP)


def test_apply_reshapes_drops_and_reports_the_rules_used() -> None:
    state = {
        "classifier.fc.weight": torch.arange(6.0).view(3, 2, 1, 1),
        "classifier.fc.bias": torch.zeros(3),
        "extractor.fc.weight": torch.zeros(3, 2),
        "features.23.weight": torch.ones(1),
        "other": torch.ones(1),
    }
    mapped, dropped, used, unmatched = apply_rules(state, RULES)
    assert mapped["backbone.head.fc.weight"].shape == (3, 2)
    assert torch.equal(mapped["backbone.head.fc.weight"], torch.arange(6.0).view(3, 2))
    assert mapped["backbone.head.fc.bias"].shape == (3,)
    assert dropped == ["extractor.fc.weight"] and unmatched == []
    assert used == [SQUEEZE, DROP, SHIFT, KEEP]
    assert apply_rules({"x": torch.ones(1)}, (SHIFT,))[3] == ["x"]


def test_two_keys_onto_one_are_refused() -> None:
    state = {"layer4_1.0.w": torch.ones(1), "layer4.0.w": torch.ones(1)}
    rules = (Rule("layer4_1.", "backbone.layer4.", range(0, 1)), KEEP)
    with pytest.raises(
        CheckpointImportError, match="keys 'layer4_1.0.w' and 'layer4.0.w' both map to"
    ):
        apply_rules(state, rules)


def test_inversion_respects_the_first_match_order() -> None:
    assert invert_key("backbone.features.24.weight", RULES) == "features.23.weight"
    assert invert_key("backbone.features.22.weight", RULES) == "features.22.weight"
    # features.24 would be shifted to 25 by SHIFT, so it cannot be the source of backbone...24
    assert invert_key("backbone.features.29.weight", RULES) == "features.28.weight"
    assert invert_key("backbone.head.fc.weight", RULES) == "classifier.fc.weight"
    assert invert_key("head.fc.weight", (SHIFT,)) is None
    inverted = invert_rules({"backbone.head.fc.weight": torch.zeros(3, 2)}, RULES)
    assert inverted["classifier.fc.weight"].shape == (3, 2, 1, 1)
    with pytest.raises(KeyError):
        invert_rules({"head.x": torch.zeros(1)}, (SHIFT,))


def test_descriptions_are_the_provenance_text() -> None:
    assert SHIFT.describe() == "features.{23..28}.* → backbone.features.{24..29}.*"
    assert KEEP.describe() == "* → backbone.*"
    assert DROP.describe() == "extractor.fc.* dropped (never called)"
    assert SQUEEZE.describe() == (
        "classifier.fc.* → backbone.head.fc.* "
        "(1×1-conv weight K×C×1×1 squeezed to the linear weight K×C)"
    )
    with pytest.raises(ValueError, match="unknown reshape 'transpose'"):
        Rule("a.", "b.", reshape="transpose")


@pytest.mark.parametrize(
    ("key", "stripped"),
    [
        ("module.features.0.weight", "features.0.weight"),
        ("features.module.0.weight", "features.0.weight"),
        ("module.backbone.module.fc.bias", "backbone.fc.bias"),
        ("modules.0.weight", "modules.0.weight"),  # only whole components
        ("fc.module_x", "fc.module_x"),
    ],
)
def test_module_components_are_removed_wherever_they_are(key: str, stripped: str) -> None:
    assert strip_module(key) == stripped
