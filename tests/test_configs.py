"""Every shipped recipe loads and validates, method hyperparameters included."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsolkit.settings import load_settings
from wsolkit.settings.validate import check_names, method_params

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_configs_exist() -> None:
    names = {p.name for p in CONFIGS}
    assert {"cub-vgg16-aligned-eil.yaml", "cub-resnet50-aligned-eil.yaml"} <= names
    for method in ("cam", "adl", "eil"):
        assert f"cub-vgg16-{method}.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path: Path) -> None:
    settings = load_settings(path)
    check_names(settings)
    params = method_params(settings)
    for key, value in settings.method.params.items():
        assert getattr(params, key) == value, f"{path.name}: method.{key}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "cub-vgg16-aligned-eil.yaml",
            {
                "lambda_sim": 0.5,
                "fg_threshold": 0.6,
                "bg_threshold": 0.1,
                "lambda_norm": 0.15,
                "lambda_drop": 3.0,
                "drop_threshold": 0.8,
                "drop_prob": 0.5,
            },
        ),
        (
            "cub-resnet50-aligned-eil.yaml",
            {
                "lambda_sim": 0.5,
                "fg_threshold": 0.4,
                "bg_threshold": 0.2,
                "lambda_norm": 0.05,
                "lambda_drop": 2.0,
                "drop_threshold": 0.8,
                "drop_prob": 0.25,
            },
        ),
    ],
)
def test_published_aligned_eil_values(name: str, expected: dict[str, float]) -> None:
    """SPEC.md §4's table, key by key."""
    settings = load_settings(Path(__file__).parents[1] / "configs" / name)
    params = method_params(settings)
    for key, value in expected.items():
        assert getattr(params, key) == value, key
    vgg = name.startswith("cub-vgg16")
    assert settings.optim.batch_size == (64 if vgg else 32)
    assert settings.optim.lr == (0.004 if vgg else 0.002)
    assert settings.optim.lr_classifier_ratio == (5 if vgg else 10)
    assert settings.optim.weight_decay == (5e-4 if vgg else 1e-4)
    assert settings.eval.eval_interval == (1 if vgg else 5)
    assert settings.model.large_feature_map is (not vgg)
    assert (settings.optim.epochs, settings.optim.warm_epochs) == (70, 20)
    assert settings.optim.lr_decay_points == [41, 61] and settings.optim.lr_decay_rate == 0.2
    assert settings.eval.cam_curve_interval == 0.005


WSOLEVALUATION = sorted((Path(__file__).parents[1] / "configs").glob("*-cam-wsolevaluation.yaml"))


@pytest.mark.parametrize("path", WSOLEVALUATION, ids=lambda p: p.name)
def test_wsolevaluation_schedules(path: Path) -> None:
    """wsolevaluation's config.py defaults (and its README's OpenImages VGG16 example)."""
    s = load_settings(path).optim
    readme = path.name.startswith("openimages-vgg16")
    assert (s.epochs, s.batch_size, s.lr, s.lr_decay_frequency, s.weight_decay) == (
        (10, 32, 0.00227913316, 3, 5e-4) if readme else (40, 64, 0.01, 30, 1e-4)
    )
    assert (s.lr_schedule, s.lr_decay_rate, s.lr_classifier_ratio, s.warm_epochs) == (
        "frequency",
        0.1,
        10,
        0,
    )
    assert s.classifier_groups == "wsolevaluation" and s.nesterov and s.momentum == 0.9
    assert load_settings(path).eval.cam_curve_interval == 0.001


def test_wsolevaluation_schedules_cover_every_dataset_and_backbone() -> None:
    names = {p.name for p in WSOLEVALUATION}
    for dataset in ("cub", "imagenet", "openimages"):
        for backbone in ("vgg16", "resnet50", "inception_v3"):
            assert f"{dataset}-{backbone}-cam-wsolevaluation.yaml" in names
