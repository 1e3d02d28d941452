"""Settings: typed models per concern, loaded with a fixed precedence.

CLI flag > environment (``WSOLKIT_SECTION__KEY``) > YAML file (``--config``) > defaults.
"""

from wsolkit.settings.loader import Settings, dump_settings, load_settings, parse_assignment
from wsolkit.settings.models import (
    DataSettings,
    EvalSettings,
    MethodSettings,
    ModelSettings,
    OptimSettings,
    RuntimeSettings,
)
from wsolkit.settings.protocol import EvalProtocol

__all__ = [
    "DataSettings",
    "EvalProtocol",
    "EvalSettings",
    "MethodSettings",
    "ModelSettings",
    "OptimSettings",
    "RuntimeSettings",
    "Settings",
    "dump_settings",
    "load_settings",
    "parse_assignment",
]
