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
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from wsolkit.errors import SettingsError
from wsolkit.settings.models import (
    DataSettings,
    EvalSettings,
    MethodSettings,
    ModelSettings,
    OptimSettings,
    RuntimeSettings,
)
from wsolkit.settings.recipes import resolve_config

ENV_PREFIX = "WSOLKIT_"
_yaml_data: ContextVar[dict[str, Any] | None] = ContextVar("wsolkit_yaml_data", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """The already-parsed YAML file of the current ``load_settings`` call."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        data = _yaml_data.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class Settings(BaseSettings):
    """Everything a run needs, one section per concern."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    data: DataSettings = Field(default_factory=DataSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    method: MethodSettings = Field(default_factory=MethodSettings)
    optim: OptimSettings = Field(default_factory=OptimSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

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
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


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


def _raise_unknown(key: str, where: str) -> None:
    hint = difflib.get_close_matches(key, _all_keys() + list(SECTIONS), n=1)
    suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
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
) -> str:
    """One line for the first error: key, value, what is allowed, and where it came from."""
    err = exc.errors()[0]
    key = prefix + ".".join(str(p) for p in err["loc"])
    where = f" ({origin(key)})" if origin else ""
    if err["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(key, _all_keys(), n=1)
        suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
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
) -> Settings:
    """Build :class:`Settings` from overrides > environment > YAML ``config`` > defaults.

    ``config`` is a YAML file or the name of a shipped recipe (``cub-vgg16-aligned-eil``).
    ``overrides`` maps dotted keys to values (``{"optim.lr": 0.01}``); ``None``
    values are ignored, so CLI flags that were not given can be passed as is.
    """
    config_path = resolve_config(config) if config is not None else None
    yaml_data = read_yaml_config(config_path) if config_path is not None else {}
    nested = _nest({k: v for k, v in (overrides or {}).items() if v is not None})
    token = _yaml_data.set(yaml_data)
    try:
        return Settings(**nested)
    except ValidationError as exc:
        origin = lambda key: _origin(key, nested, yaml_data, config_path)  # noqa: E731
        raise SettingsError(format_validation_error(exc, origin=origin)) from None
    finally:
        _yaml_data.reset(token)


def dump_settings(settings: Settings) -> str:
    """The fully resolved settings as YAML (what a run directory records)."""
    data = settings.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
