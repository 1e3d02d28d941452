"""Before the first epoch: empty splits, unreadable images, and a resume on other settings or
other data are refused with one line; nothing is trained and no run directory is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_runs import tiny_overrides
from typer.testing import CliRunner

from wsolkit.cli import app
from wsolkit.data.prepare.synthetic import prepare_synthetic
from wsolkit.engine.api import train
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.trainer import Interrupted
from wsolkit.errors import DataError, SettingsError, UsageError

runner = CliRunner()


def make_data(root: Path, **kwargs: object) -> Path:
    options = {"seed": 0, "train": 24, "val": 8, "test": 8, "image_size": 32, "classes": 3}
    options.update(kwargs)
    prepare_synthetic(root, **options)  # type: ignore[arg-type]
    return root


def overrides(data: Path, out: Path, **extra: object) -> dict[str, object]:
    """A two-epoch tiny run named ``r``."""
    return tiny_overrides(data, out, **{"optim.epochs": 2, **extra})


def cli_args(data: Path, out: Path) -> list[str]:
    return [
        "train",
        "--data", str(data),
        "--backbone", "tiny",
        "--weights", "none",
        "--method", "cam",
        "--epochs", "1",
        "--batch-size", "8",
        "--device", "cpu",
        "--workers", "0",
        "--out-dir", str(out),
        "--run-name", "r",
        "--set", "optim.warm_epochs=0",
        "--set", "eval.cam_curve_interval=0.05",
        "-q",
    ]  # fmt: skip


class StopAfterFirstEpoch(Callbacks):
    def on_epoch_end(self, record) -> None:
        raise KeyboardInterrupt


def empty_split(data: Path, split: str) -> None:
    for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
        if (data / split / name).exists():
            (data / split / name).write_text("")
    (data / split / "mask_localization.txt").unlink(missing_ok=True)


# --- item 3: no silent success -------------------------------------------------------------
@pytest.mark.parametrize(
    ("split", "words"),
    [
        ("train", "nothing to train on"),
        ("val", "no validation score and no best checkpoint"),
        ("test", "nothing to test"),
    ],
)
def test_an_empty_split_is_an_error_naming_it(tmp_path, split, words) -> None:
    data = make_data(tmp_path / "data")
    empty_split(data, split)
    result = runner.invoke(app, cli_args(data, tmp_path / "runs"))
    assert result.exit_code == 1, result.output
    assert f"the {split} split {data / split} holds no image" in result.output.replace("\n", "")
    assert words in result.output.replace("\n", " ")
    assert not (tmp_path / "runs" / "r").exists()


def test_an_absent_val_split_still_trains(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    for file in (data / "val").iterdir():
        file.unlink()
    (data / "val").rmdir()
    summary = train(overrides=overrides(data, tmp_path / "runs", **{"optim.epochs": 1}))
    assert summary is not None and summary.best_epoch is None and "last" in summary.test


# --- item 4: bad images are found before training ------------------------------------------
def break_images(data: Path) -> tuple[str, str]:
    """Delete one val image and truncate one train image; return their ids."""
    val_id = (data / "val" / "image_ids.txt").read_text().split()[3]
    train_id = (data / "train" / "image_ids.txt").read_text().split()[5]
    images = data / "images"
    (images / val_id).unlink()
    (images / train_id).write_bytes((images / train_id).read_bytes()[:20])
    return val_id, train_id


def test_missing_and_corrupt_images_stop_the_run_before_the_first_epoch(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    val_id, train_id = break_images(data)
    result = runner.invoke(app, cli_args(data, tmp_path / "runs"))
    assert result.exit_code == 1
    text = result.output.replace("\n", "")
    assert "2 image(s) cannot be used (1 in train, 1 in val)" in text
    assert train_id in text and "--skip-bad-images" in text
    assert not (tmp_path / "runs" / "r").exists()


def test_skip_bad_images_leaves_them_out_and_counts_them(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    break_images(data)
    result = runner.invoke(app, [*cli_args(data, tmp_path / "runs"), "--skip-bad-images"])
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads((tmp_path / "runs" / "r" / "summary.json").read_text())
    assert summary["skipped_images"] == 2
    assert summary["test"]["last"]["images"] == 8


def test_data_reading_settings_may_change_on_resume(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    with pytest.raises(Interrupted):
        train(overrides=overrides(data, tmp_path / "runs"), callbacks=StopAfterFirstEpoch())
    val_id, _ = break_images(data)
    with pytest.raises(DataError, match="--skip-bad-images"):
        train(overrides={"runtime.device": "cpu"}, resume=tmp_path / "runs" / "r")
    summary = train(
        overrides={"data.skip_bad_images": True, "runtime.device": "cpu"},
        resume=tmp_path / "runs" / "r",
    )
    assert summary is not None and summary.epochs == 2 and summary.skipped_images == 2


# --- item 7: resume never silently accepts changed inputs -----------------------------------
@pytest.fixture
def interrupted(tmp_path) -> tuple[Path, Path]:
    data = make_data(tmp_path / "data")
    with pytest.raises(Interrupted):
        train(overrides=overrides(data, tmp_path / "runs"), callbacks=StopAfterFirstEpoch())
    return data, tmp_path / "runs" / "r"


def test_resume_refuses_a_recipe_that_changes_training(interrupted, tmp_path) -> None:
    _, run = interrupted
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optim:\n  lr: 0.5\n")
    with pytest.raises(UsageError) as info:
        train(config=recipe, overrides={}, resume=run)
    message = str(info.value)
    assert f"optim.lr = 0.5 (from --config {recipe})" in message
    assert "the run was trained with 0.004" in message


def test_resume_accepts_a_recipe_that_only_changes_how_it_runs(interrupted, tmp_path) -> None:
    _, run = interrupted
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("runtime:\n  device: cpu\n  workers: 0\n")
    summary = train(config=recipe, overrides={}, resume=run)
    assert summary is not None and summary.epochs == 2


def test_resume_names_an_environment_variable_that_changes_training(
    interrupted, monkeypatch
) -> None:
    _, run = interrupted
    monkeypatch.setenv("WSOLKIT_OPTIM__WEIGHT_DECAY", "0.1")
    with pytest.raises(UsageError, match=r"\(from \$WSOLKIT_OPTIM__WEIGHT_DECAY\)"):
        train(overrides={}, resume=run)


@pytest.mark.parametrize(
    ("regenerate", "words"),
    [
        ({"seed": 5}, "the train split at"),
        ({"classes": 4}, "has 4 classes, the run was trained on 3"),
    ],
)
def test_resume_refuses_a_regenerated_dataset(interrupted, regenerate, words) -> None:
    data, run = interrupted
    make_data(data, overwrite=True, **regenerate)
    with pytest.raises(DataError) as info:
        train(overrides={"runtime.device": "cpu"}, resume=run)
    assert words in str(info.value) and f"cannot resume {run}" in str(info.value)


def test_resume_accepts_the_same_data_moved(interrupted, tmp_path) -> None:
    data, run = interrupted
    moved = tmp_path / "moved"
    data.rename(moved)
    summary = train(overrides={"data.root": moved, "runtime.device": "cpu"}, resume=run)
    assert summary is not None and summary.epochs == 2


# --- item 10 and 11: names and recipes -----------------------------------------------------
def test_a_run_name_cannot_leave_the_output_folder(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    args = cli_args(data, tmp_path / "runs")
    args[args.index("--run-name") + 1] = "../escaped"
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "one folder name" in result.output
    assert not (tmp_path / "escaped").exists()


def test_another_method_drops_the_recipes_hyperparameters_and_says_so(tmp_path) -> None:
    from wsolkit.engine.setup import resolve_settings

    data = make_data(tmp_path / "data")
    notes: list[str] = []
    settings = resolve_settings(
        "synthetic-tiny-aligned-eil", {"method.name": "cam", "data.root": data}, notes
    )
    assert settings.method.name == "cam" and settings.method.params == {}
    assert "'aligned-eil'" in notes[0] and "'cam'" in notes[0] and "method.lambda_sim" in notes[0]
    kept = resolve_settings(
        "synthetic-tiny-aligned-eil",
        {"method.name": "eil", "method.erase_threshold": 0.7, "data.root": data},
        [],
    )
    assert kept.method.params == {"erase_threshold": 0.7}


def test_a_method_typo_fails_before_the_embedded_data_is_generated(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WSOLKIT_CACHE", str(cache))
    result = runner.invoke(app, ["train", "--set", "method.lamda_sim=0.5", "-q"])
    assert result.exit_code == 1
    assert "Did you mean 'method.lambda_sim'?" in result.output
    assert not cache.exists() or not any(cache.iterdir())


def test_settings_errors_keep_their_type(tmp_path) -> None:
    data = make_data(tmp_path / "data")
    with pytest.raises(SettingsError):
        train(overrides=overrides(data, tmp_path / "runs", **{"method.lamda_sim": 0.5}))


def test_the_dataset_sets_aligned_eils_norm_region_unless_given(tmp_path) -> None:
    from wsolkit.data.metadata import SplitMetadata, write_split
    from wsolkit.engine.setup import resolve_settings

    ids = ["a/1.jpg"]
    meta = SplitMetadata(ids, {"a/1.jpg": 0}, {"a/1.jpg": (8, 8)}, {"a/1.jpg": [(1, 1, 5, 5)]})
    for split in ("train", "val", "test"):
        write_split(tmp_path / "meta" / split, meta)
    (tmp_path / "images").mkdir()
    base = {"data.root": tmp_path / "meta", "data.image_root": tmp_path / "images"}
    imagenet = resolve_settings(None, {**base, "data.dataset": "imagenet"})
    assert imagenet.method.name == "aligned-eil" and imagenet.method.params == {
        "norm_region": "target"
    }
    cub = resolve_settings(None, {**base, "data.dataset": "cub"})
    assert cub.method.params == {"norm_region": "max"}
    given = {**base, "data.dataset": "imagenet", "method.norm_region": "max"}
    assert resolve_settings(None, given).method.params == {"norm_region": "max"}
    assert resolve_settings(None, {**base, "data.dataset": "imagenet", "method.name": "cam"})\
        .method.params == {}  # fmt: skip
