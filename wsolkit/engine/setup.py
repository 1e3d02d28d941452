"""From command-line intent to fully resolved settings.

- no dataset and no data folder: the embedded synthetic benchmark, generated once
  into the cache (``WSOLKIT_CACHE``) and trained with a shipped synthetic recipe;
- a prepared folder: the dataset's defaults (input sizes, normalization, the
  evaluation resolution) fill every data setting the user did not set;
- ``--resume``: the run's recorded settings, where only runtime settings (and a
  longer ``optim.epochs``) may change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wsolkit.errors import SettingsError, UsageError
from wsolkit.settings import MethodSettings, Settings, load_settings
from wsolkit.settings.recipes import RECIPE_DIR
from wsolkit.settings.validate import check_names, method_params

DEFAULT_METHOD = "aligned-eil"
# Settings that may differ when a run is resumed: where and how it runs and reads its data,
# not what it trains. A moved dataset is accepted because the run's data fingerprint (checked
# on resume) proves it is the same data.
RESUMABLE_CHANGES = (
    "runtime.",
    "optim.epochs",
    "data.root",
    "data.image_root",
    "data.mask_root",
    "data.skip_bad_images",
    "data.cache_images",
    "data.resize_cache",
    "data.check_images",
)
SPEC_DATA_FIELDS = ("resize_size", "crop_size", "eval_size", "mean", "std")


def _given(overrides: dict[str, Any], key: str) -> Any:
    value = overrides.get(key)
    if value is None:
        env = "WSOLKIT_" + key.replace(".", "__").upper()
        value = os.environ.get(env)
    return value


def embedded_recipe(method: str | None) -> Path:
    """The shipped synthetic recipe of ``method`` (or CAM's schedule for another method)."""
    own = RECIPE_DIR / f"synthetic-tiny-{method or DEFAULT_METHOD}.yaml"
    return own if own.is_file() else RECIPE_DIR / "synthetic-tiny-cam.yaml"


def resolve_settings(
    config: str | Path | None, overrides: dict[str, Any], notes: list[str] | None = None
) -> Settings:
    """Load settings for a new run, applying the embedded default and the dataset's defaults.

    Names and method hyperparameters are checked first, before anything expensive (the
    embedded dataset is generated only for valid settings). ``notes`` receives what the
    user should be told (hyperparameters of a recipe's other method that were dropped).
    """
    no_data = _given(overrides, "data.root") is None
    dataset = _given(overrides, "data.dataset")
    if config is None and no_data and dataset in (None, "synthetic"):
        config = embedded_recipe(_given(overrides, "method.name"))
    settings = load_settings(config, overrides)
    settings = _without_recipe_params_of_another_method(settings, config, overrides, notes)
    check_names(settings)
    method_params(settings)
    check_selection(settings)
    if settings.data.root is None and settings.data.dataset in (None, "synthetic"):
        settings = _with_embedded_dataset(settings)
    return _with_dataset_defaults(settings)


def _without_recipe_params_of_another_method(
    settings: Settings,
    config: str | Path | None,
    overrides: dict[str, Any],
    notes: list[str] | None,
) -> Settings:
    """A recipe's method hyperparameters are for the recipe's method: when the command line
    (or the environment) chooses another method, they are dropped, and the user is told."""
    if config is None:
        return settings
    from wsolkit.settings.loader import read_yaml_config
    from wsolkit.settings.recipes import resolve_config

    recipe = read_yaml_config(resolve_config(config)).get("method", {})
    recipe_method = recipe.get("name", DEFAULT_METHOD)
    chosen = settings.method.name
    if recipe_method == chosen:
        return settings
    explicit = {
        key.partition(".")[2]
        for key in _given_keys(overrides)
        if key.startswith("method.") and key != "method.name"
    }
    dropped = [k for k in recipe if k != "name" and k not in explicit]
    if not dropped:
        return settings
    kept = {k: v for k, v in settings.method.params.items() if k not in dropped}
    method = MethodSettings(name=chosen, **kept)
    if notes is not None:
        names = ", ".join(f"method.{k}" for k in dropped)
        notes.append(
            f"the recipe {config} sets hyperparameters of '{recipe_method}' ({names}); "
            f"they were dropped, since '{chosen}' was chosen: it uses its own defaults "
            "(`wsolkit list methods --json`)"
        )
    return settings.model_copy(update={"method": method})


def _given_keys(overrides: dict[str, Any]) -> set[str]:
    """Dotted keys set by a flag, ``--set`` or a ``WSOLKIT_*`` variable."""
    keys = {k for k, v in overrides.items() if v is not None}
    for name in os.environ:
        if name.upper().startswith("WSOLKIT_") and "__" in name:
            section, _, key = name[len("WSOLKIT_") :].lower().partition("__")
            keys.add(f"{section}.{key}")
    return keys


def check_selection(settings: Settings) -> None:
    """``eval.select_by`` names the split's own boxes or one of ``data.val_boxes``."""
    chosen, sets = settings.eval.select_by, settings.data.val_boxes
    if chosen != "gt" and chosen not in sets:
        offered = ", ".join(["gt", *sets])
        raise SettingsError(
            f"invalid setting eval.select_by = {chosen!r}: use one of {offered} (data.val_boxes "
            "names the extra box sets)"
        )


def finish_dataset_settings(settings: Settings) -> Settings:
    """The dataset's defaults filled in, names and method hyperparameters checked (for
    settings made in code, e.g. those of an imported checkpoint)."""
    settings = _with_dataset_defaults(settings)
    check_names(settings)
    method_params(settings)
    return settings


def _with_embedded_dataset(settings: Settings) -> Settings:
    from wsolkit.data.prepare.synthetic import default_cache_dir, ensure_synthetic

    root = ensure_synthetic(default_cache_dir(), seed=settings.runtime.seed)
    data = settings.data.model_copy(update={"root": root, "dataset": "synthetic"})
    return settings.model_copy(update={"data": data})


def _with_dataset_defaults(settings: Settings) -> Settings:
    """Fill unset data fields from the dataset (manifest's eval size, the spec's sizes)."""
    from wsolkit.data.spec import MANIFEST, read_manifest
    from wsolkit.registry import datasets

    data = settings.data
    updates: dict[str, Any] = {}
    name = data.dataset
    manifest = None
    if data.root is not None and (Path(data.root) / MANIFEST).is_file():
        manifest = read_manifest(data.root)
        name = name or manifest.dataset
        updates["dataset"] = name
    spec = datasets.load(name) if name is not None and name in datasets else None
    unset = [f for f in SPEC_DATA_FIELDS if f not in data.model_fields_set]
    for field in unset:
        if spec is not None:
            updates[field] = getattr(spec, field)
    if manifest is not None and manifest.eval_size and "eval_size" in unset:
        updates["eval_size"] = manifest.eval_size
        # A native-size dataset (train = crop = eval size, e.g. synthetic) follows the size
        # its folder was generated at, for training too.
        native = spec is not None and spec.resize_size == spec.crop_size == spec.eval_size
        for field in ("resize_size", "crop_size"):
            if native and field in unset:
                updates[field] = manifest.eval_size
    method = _with_method_defaults(settings.method, spec)
    if not updates and method is settings.method:
        return settings
    return settings.model_copy(update={"data": data.model_copy(update=updates), "method": method})


def _with_method_defaults(method: MethodSettings, spec: Any) -> MethodSettings:
    """The dataset's defaults for hyperparameters the method has and the settings leave unset
    (e.g. aligned EIL's ``norm_region`` follows the dataset)."""
    from wsolkit.registry import methods

    defaults = getattr(spec, "method_defaults", None) or {}
    params = getattr(methods.load(method.name), "Params", None)
    fields = params.model_fields if params is not None else {}
    missing = {k: v for k, v in defaults.items() if k in fields and k not in method.params}
    if not missing:
        return method
    return MethodSettings(name=method.name, **method.params, **missing)


def resume_settings(
    recorded: Path, overrides: dict[str, Any], config: str | Path | None = None
) -> Settings:
    """The run's own settings, under ``config`` (a recipe), the environment and the flags.

    Any of those that would change what the run trains is refused with one line naming
    the setting, both values and where the new one came from; settings of where and how
    it runs (and reads its data) may change.
    """
    from wsolkit.settings.loader import read_yaml_config

    base = read_yaml_config(recorded)
    before = Settings(**base)  # the file alone: every key is recorded
    after = load_settings(config, overrides, base=base)
    changed = _diff(before.model_dump(mode="json"), after.model_dump(mode="json"))
    bad = [k for k in changed if not k.startswith(RESUMABLE_CHANGES)]
    if bad:
        key = bad[0]
        raise UsageError(
            f"cannot resume {recorded.parent} with {key} = {_lookup(after, key)!r} "
            f"({_origin(key, overrides, config)}): the run was trained with "
            f"{_lookup(before, key)!r}; drop that setting, or start a new run (no --resume)"
        )
    if after.optim.epochs < before.optim.epochs:
        raise UsageError("optim.epochs can only grow when resuming")
    return after


def _origin(key: str, overrides: dict[str, Any], config: str | Path | None) -> str:
    """Which source set ``key``: a flag, a ``WSOLKIT_*`` variable or the ``--config`` file."""
    if overrides.get(key) is not None:
        return "from the command line"
    env = "WSOLKIT_" + key.replace(".", "__").upper()
    if any(name.upper() == env for name in os.environ):
        return f"from ${env}"
    if config is not None:
        return f"from --config {config}"
    return "a default"


def _diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    keys = []
    for section in a:
        for key in set(a[section]) | set(b[section]):
            if a[section].get(key) != b[section].get(key):
                keys.append(f"{section}.{key}")
    return sorted(keys)


def _lookup(settings: Settings, key: str) -> Any:
    section, name = key.split(".")
    return settings.model_dump(mode="json")[section].get(name)
