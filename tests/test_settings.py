from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wsolkit.errors import SettingsError
from wsolkit.settings import dump_settings, load_settings, parse_assignment


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_are_the_published_vgg16_recipe() -> None:
    s = load_settings()
    assert (s.optim.lr, s.optim.lr_classifier_ratio, s.optim.weight_decay) == (0.004, 5.0, 5e-4)
    assert s.optim.lr_decay_points == [41, 61] and s.optim.lr_decay_rate == 0.2
    assert s.eval.iou_thresholds == (30, 50, 70)


def test_precedence_flag_over_env_over_yaml_over_default(tmp_path, monkeypatch) -> None:
    cfg = write(tmp_path / "r.yaml", "optim:\n  lr: 0.1\n  epochs: 3\n  batch_size: 8\n")
    monkeypatch.setenv("WSOLKIT_OPTIM__LR", "0.2")
    monkeypatch.setenv("WSOLKIT_OPTIM__EPOCHS", "4")
    s = load_settings(cfg, {"optim.lr": 0.3})
    assert s.optim.lr == 0.3  # flag beats env and YAML
    assert s.optim.epochs == 4  # env beats YAML
    assert s.optim.batch_size == 8  # YAML beats default
    assert s.optim.warm_epochs == 20  # default
    assert load_settings(cfg, {"optim.lr": None}).optim.lr == 0.2  # a flag not given is no override


def test_method_hyperparameters_pass_through_every_source(tmp_path, monkeypatch) -> None:
    cfg = write(tmp_path / "r.yaml", "method:\n  name: aligned-eil\n  lambda_sim: 0.25\n")
    monkeypatch.setenv("WSOLKIT_METHOD__DROP_PROB", "0.4")
    s = load_settings(cfg, {"method.lambda_norm": 0.1})
    assert s.method.params == {"lambda_sim": 0.25, "drop_prob": "0.4", "lambda_norm": 0.1}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"optim.lr": -1},
            "invalid setting optim.lr = -1 (from the command line): input should be greater than 0",
        ),
        (
            {"optim.momentum": 1.5},
            "invalid setting optim.momentum = 1.5 (from the command line): input should be less than 1",
        ),
        (
            {"runtime.amp": "fp8"},
            "invalid setting runtime.amp = 'fp8' (from the command line): input should be 'off', 'bf16' or 'fp16'",
        ),
        ({"eval.iou_thresholds": [50, 150]}, "IoU levels are percentages: each must be in 1..100"),
        ({"optim.lr_decay_points": [0, 10]}, "every value must be >= 1"),
        (
            {"optim.lrr": 1},
            "unknown setting 'optim.lrr' (from the command line). Did you mean 'optim.lr'?",
        ),
        ({"optimizer.lr": 1}, "unknown setting 'optimizer.lr' on the command line."),
        ({"lr": 1}, "setting 'lr' must be SECTION.KEY"),
    ],
)
def test_invalid_values_give_one_line_naming_key_value_and_range(overrides, expected) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides=overrides)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_errors_name_the_source(tmp_path, monkeypatch) -> None:
    cfg = write(tmp_path / "bad.yaml", "optim:\n  epochs: 0\n")
    with pytest.raises(
        SettingsError,
        match=r"optim.epochs = 0 \(from .*bad.yaml\): input should be greater than or equal to 1",
    ):
        load_settings(cfg)
    monkeypatch.setenv("WSOLKIT_OPTIM__WEIGHT_DECAY", "-1")
    with pytest.raises(SettingsError, match=r"\(from \$WSOLKIT_OPTIM__WEIGHT_DECAY\)"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optim:\n  lr: [1\n", "bad.yaml:3: invalid YAML"),
        ("- 1\n- 2\n", "holds a mapping of sections"),
        ("optimizer:\n  lr: 1\n", "unknown setting 'optimizer'"),
        ("optim: 3\n", "section 'optim' must be a mapping"),
        ("optim:\n  lrr: 1\n", "unknown setting 'optim.lrr'"),
    ],
)
def test_bad_yaml_files(tmp_path, text, expected) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path / "bad.yaml", text))
    assert expected in str(info.value)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(SettingsError, match="config file .*nope.yaml does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_parse_assignment_reads_yaml_values() -> None:
    assert parse_assignment("optim.lr=0.01") == ("optim.lr", 0.01)
    assert parse_assignment("optim.lr_decay_points=[3, 5]") == ("optim.lr_decay_points", [3, 5])
    assert parse_assignment("model.weights=/a/b.pth") == ("model.weights", "/a/b.pth")
    with pytest.raises(SettingsError, match="expected KEY=VALUE"):
        parse_assignment("optim.lr")


def test_dump_round_trips(tmp_path) -> None:
    s = load_settings(overrides={"optim.lr": 0.01, "method.lambda_sim": 0.3})
    text = dump_settings(s)
    again = load_settings(write(tmp_path / "resolved.yaml", text))
    assert again == s
    assert yaml.safe_load(text)["method"] == {"name": "aligned-eil", "lambda_sim": 0.3}


def test_shipped_recipes_are_found_by_name() -> None:
    s = load_settings("cub-resnet50-aligned-eil")
    assert s.model.backbone == "resnet50" and s.model.large_feature_map is True
    with pytest.raises(SettingsError, match="Did you mean 'cub-vgg16-cam'"):
        load_settings("cub-vgg16-cams")


def test_an_empty_set_value_is_an_error_and_null_unsets() -> None:
    with pytest.raises(SettingsError, match=r"--set 'optim.lr=': empty value"):
        parse_assignment("optim.lr=")
    key, value = parse_assignment("data.dataset=null")
    settings = load_settings(overrides={"data.dataset": "cub", key: value})
    assert settings.data.dataset is None


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("optim.learning_rate", "optim.lr"),
        ("model.architecture", "model.backbone"),
        ("eval.iou_threshold_list", "eval.iou_thresholds"),
        ("optim.eval_size", "data.eval_size"),  # the right name in another section
        ("optim.lrr", "optim.lr"),
    ],
)
def test_unknown_keys_suggest_what_was_meant(key, meant) -> None:
    with pytest.raises(SettingsError, match=rf"unknown setting '{key}'.*Did you mean '{meant}'"):
        load_settings(overrides={key: 1})


def test_malformed_json_in_a_list_variable_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("WSOLKIT_OPTIM__LR_DECAY_POINTS", "[41, 61")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "$WSOLKIT_OPTIM__LR_DECAY_POINTS = '[41, 61' is not valid JSON" in message
    assert "\n" not in message
    monkeypatch.setenv("WSOLKIT_OPTIM__LR_DECAY_POINTS", "[41, 61]")
    assert load_settings().optim.lr_decay_points == [41, 61]


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "a\\b", " "])
def test_run_names_stay_inside_the_output_folder(name) -> None:
    with pytest.raises(SettingsError, match=r"invalid setting runtime.run_name .*one folder name"):
        load_settings(overrides={"runtime.run_name": name})
    assert load_settings(overrides={"runtime.run_name": "cub-run.2"}).runtime.run_name


def test_method_hyperparameter_typos_suggest_the_methods_own_key() -> None:
    from wsolkit.settings.validate import method_params

    settings = load_settings(overrides={"method.lamda_sim": 0.5})
    with pytest.raises(SettingsError) as info:
        method_params(settings)
    assert "unknown setting 'method.lamda_sim'" in str(info.value)
    assert "Did you mean 'method.lambda_sim'?" in str(info.value)
