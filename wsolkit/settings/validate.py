"""Checks that need the plugins: method hyperparameters and registered names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from wsolkit.errors import SettingsError
from wsolkit.registry import backbones, datasets, methods
from wsolkit.settings.loader import Settings, format_validation_error


def method_params(settings: Settings) -> BaseModel:
    """Validate ``method.*`` hyperparameters with the method's own ``Params`` model.

    Returns the validated model (published defaults filled in). Unknown keys and
    out-of-range values raise :class:`SettingsError` naming ``method.<key>``.
    """
    method_cls: Any = methods.load(settings.method.name)
    params_model: type[BaseModel] | None = getattr(method_cls, "Params", None)
    given = settings.method.params
    if params_model is None:
        if given:
            raise SettingsError(
                f"method '{settings.method.name}' takes no hyperparameters, got: "
                + ", ".join(f"method.{k}" for k in given)
            )
        return BaseModel()
    try:
        return params_model(**given)
    except ValidationError as exc:
        keys = ["method.name", *(f"method.{name}" for name in params_model.model_fields)]
        message = format_validation_error(exc, prefix="method.", candidates=keys)
        raise SettingsError(f"{message} (method '{settings.method.name}')") from None


def check_names(settings: Settings) -> None:
    """Fail early, with suggestions, on an unknown backbone, method or dataset name."""
    backbones.load(settings.model.backbone)
    methods.load(settings.method.name)
    if settings.data.dataset is not None:
        datasets.load(settings.data.dataset)
