"""Load, validate and dump :class:`Settings` with a fixed precedence.

``load_settings(config=path, overrides={...})`` merges, highest first: the
overrides (CLI flags and ``--set key=value``), ``WSOLKIT_SECTION__KEY``
environment variables, the YAML file, and the models' defaults. Any invalid
value becomes a :class:`~wsolkit.errors.SettingsError` whose one line names the
key, the value, the allowed range and where the value came from.
"""

from __future__ import annotations

import difflib
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as EnvParseError

from wsolkit.errors import SettingsError
from wsolkit.settings.models import (
    DataSettings,
    EvalSettings,
    MethodSettings,
    ModelSettings,
    OptimSettings,
    RuntimeSettings,
)
from wsolkit.settings.protocol import EvalProtocol
from wsolkit.settings.recipes import resolve_config

ENV_PREFIX = "WSOLKIT_"
# ``--set section.key=null``: set an optional setting to None (a plain None means "not given").
EXPLICIT_NONE = object()
# Names users bring from wsolevaluation's and bridging-gap's argparse options (and common
# spellings) that difflib cannot match to ours: "did you mean" says the right key.
KNOWN_ALIASES: dict[str, str] = {
    "learning_rate": "optim.lr",
    "lr_decay": "optim.lr_decay_rate",
    "num_epochs": "optim.epochs",
    "epoch": "optim.epochs",
    "bs": "optim.batch_size",
    "wd": "optim.weight_decay",
    "architecture": "model.backbone",
    "arch": "model.backbone",
    "pretrained": "model.weights",
    "wsol_method": "method.name",
    "dataset_name": "data.dataset",
    "data_root": "data.image_root",
    "metadata_root": "data.root",
    "proxy_training_set": "data.use_proxy",
    "multi_contour_eval": "eval.multi_contour",
    "iou_threshold_list": "eval.iou_thresholds",
    "iou_threshold": "eval.iou_thresholds",
    "experiment_name": "runtime.run_name",
    "num_workers": "runtime.workers",
    "log_folder": "runtime.out_dir",
}
_yaml_data: ContextVar[dict[str, Any] | None] = ContextVar("wsolkit_yaml_data", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """The already-parsed YAML file of the current ``load_settings`` call."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        data = _yaml_data.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class Settings(BaseModel):
    """Everything a run needs, one section per concern.

    A plain model: building one from a dict (a run's recorded settings, a
    store's provenance) reads nothing else. :func:`load_settings` is where the
    environment and YAML files come in.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: DataSettings = Field(default_factory=DataSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    method: MethodSettings = Field(default_factory=MethodSettings)
    optim: OptimSettings = Field(default_factory=OptimSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

    @property
    def protocol(self) -> EvalProtocol:
        """The evaluation protocol of these settings (``data.eval_size`` and ``eval.*``)."""
        e = self.eval
        return EvalProtocol(
            eval_size=self.data.eval_size,
            cam_curve_interval=e.cam_curve_interval,
            iou_thresholds=e.iou_thresholds,
            multi_contour=e.multi_contour,
        )


class _SourcedSettings(BaseSettings, Settings):  # type: ignore[misc]
    """:class:`Settings` read from flags > ``WSOLKIT_*`` environment > YAML > defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls)


SECTIONS: tuple[str, ...] = tuple(Settings.model_fields)


def read_yaml_config(path: Path) -> dict[str, Any]:
    """Parse a YAML recipe; errors name the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SettingsError(f"{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"{path}: a config file holds a mapping of sections ({', '.join(SECTIONS)}), "
            f"not a {type(data).__name__}"
        )
    for key, value in data.items():
        if key not in SECTIONS:
            _raise_unknown(str(key), f"in {path}")
        if not isinstance(value, dict):
            raise SettingsError(f"{path}: section '{key}' must be a mapping of keys to values")
    return data


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` (value read as YAML: ``0.1``, ``true``, ``[41, 61]``)."""
    if "=" not in text:
        raise SettingsError(f"--set '{text}': expected KEY=VALUE, e.g. --set optim.lr=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not raw.strip():
        raise SettingsError(
            f"--set '{text}': empty value; give one (e.g. --set {key}=...), or "
            f"--set {key}=null to unset an optional setting"
        )
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key, EXPLICIT_NONE if value is None else value


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            raise SettingsError(
                f"setting '{key}' must be SECTION.KEY with SECTION one of {', '.join(SECTIONS)} "
                "(e.g. optim.lr)"
            )
        if parts[0] not in SECTIONS:
            _raise_unknown(key, "on the command line")
        nested.setdefault(parts[0], {})[parts[1]] = value
    return nested


def _all_keys() -> list[str]:
    keys = []
    for section in SECTIONS:
        annotation = Settings.model_fields[section].annotation
        keys += [f"{section}.{k}" for k in annotation.model_fields]  # type: ignore[union-attr]
    return keys


def suggest_key(key: str, candidates: list[str]) -> str | None:
    """The valid key a user probably meant: a known alias, or the closest spelling."""
    name = key.rpartition(".")[2]
    alias = KNOWN_ALIASES.get(name.replace("-", "_").lower())
    if alias is not None and alias in candidates:
        return alias
    # The right name in another section (optim.eval_size → data.eval_size).
    elsewhere = [c for c in candidates if c.rpartition(".")[2] == name and c != key]
    hint = elsewhere[:1] or difflib.get_close_matches(key, candidates, n=1)
    return hint[0] if hint else None


def _raise_unknown(key: str, where: str) -> None:
    hint = suggest_key(key, _all_keys() + list(SECTIONS))
    suggestion = f" Did you mean '{hint}'?" if hint else ""
    raise SettingsError(
        f"unknown setting '{key}' {where}.{suggestion} "
        "(`wsolkit train --help` and configs/ show the valid keys)"
    )


def _origin(
    key: str, overrides: dict[str, Any], yaml_data: dict[str, Any], config: Path | None
) -> str:
    section, _, name = key.partition(".")
    if name in overrides.get(section, {}):
        return "from the command line"
    env_name = f"{ENV_PREFIX}{section}__{name}".upper()
    if any(k.upper() == env_name for k in os.environ):
        return f"from ${env_name}"
    if name in yaml_data.get(section, {}):
        return f"from {config}"
    return "default"


def format_validation_error(
    exc: ValidationError,
    *,
    prefix: str = "",
    origin: Any = None,
    candidates: list[str] | None = None,
) -> str:
    """One line for the first error: key, value, what is allowed, and where it came from.

    ``candidates`` are the valid keys an unknown one is matched against (default: every
    setting).
    """
    err = exc.errors()[0]
    key = prefix + ".".join(str(p) for p in err["loc"])
    where = f" ({origin(key)})" if origin else ""
    if err["type"] == "extra_forbidden":
        hint = suggest_key(key, list(candidates) if candidates is not None else _all_keys())
        suggestion = f" Did you mean '{hint}'?" if hint else ""
        return f"unknown setting '{key}'{where}.{suggestion}"
    value = err.get("input")
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    first_word = message.split(" ", 1)[0]
    if first_word[1:].islower():  # "Input should…" -> "input should…", but keep "IoU…"
        message = message[0].lower() + message[1:]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid setting {key} = {value!r}{where}: {message}{more}"


def load_settings(
    config: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    base: dict[str, Any] | None = None,
) -> Settings:
    """Build :class:`Settings` from overrides > environment > YAML ``config`` > defaults.

    ``config`` is a YAML file or the name of a shipped recipe (``cub-vgg16-aligned-eil``).
    ``overrides`` maps dotted keys to values (``{"optim.lr": 0.01}``); ``None``
    values are ignored, so CLI flags that were not given can be passed as is
    (:data:`EXPLICIT_NONE` sets a value to None). ``base`` is a parsed YAML
    config below ``config`` (a run's recorded settings, on resume).
    """
    config_path = resolve_config(config) if config is not None else None
    yaml_data = read_yaml_config(config_path) if config_path is not None else {}
    if base is not None:
        yaml_data = merge_sections(base, yaml_data)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    nested = _nest({k: None if v is EXPLICIT_NONE else v for k, v in given.items()})
    token = _yaml_data.set(yaml_data)
    try:
        loaded = _SourcedSettings(**nested)
    except ValidationError as exc:
        origin = lambda key: _origin(key, nested, yaml_data, config_path)  # noqa: E731
        raise SettingsError(format_validation_error(exc, origin=origin)) from None
    except EnvParseError:
        raise SettingsError(_env_parse_problem()) from None
    finally:
        _yaml_data.reset(token)
    # Only what a source gave counts as set: dataset defaults fill the rest later.
    return Settings.model_validate(loaded.model_dump(exclude_unset=True))


def merge_sections(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Two parsed YAML configs, ``top``'s keys winning within each section."""
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in top.items():
        merged.setdefault(section, {}).update(values)
    return merged


def _env_parse_problem() -> str:
    """Name the ``WSOLKIT_*`` variable whose value is not valid JSON for a list/dict field."""
    import json

    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        annotation = Settings.model_fields.get(section)
        fields = getattr(annotation.annotation, "model_fields", {}) if annotation else {}
        info = fields.get(key)
        if info is None or not _is_complex(info.annotation):
            continue
        try:
            json.loads(value)
        except ValueError as exc:
            return (
                f"${name} = {value!r} is not valid JSON ({exc.msg} at character {exc.pos}); "
                f"{section}.{key} takes a JSON list, e.g. {name}='[41, 61]'"
            )
    return "a WSOLKIT_* environment variable holds invalid JSON for a list or mapping setting"


def _is_complex(annotation: Any) -> bool:
    """List, tuple, set or dict annotations: pydantic-settings reads those as JSON."""
    import typing

    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, dict):
        return True
    return any(_is_complex(arg) for arg in typing.get_args(annotation))


def dump_settings(settings: Settings) -> str:
    """The fully resolved settings as YAML (what a run directory records)."""
    data = settings.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
