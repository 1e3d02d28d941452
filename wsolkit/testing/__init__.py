"""Conformance checks for backbone, method and extractor plugins, for plugin authors' tests.

wsolkit runs the same checks over its built-ins (``tests/test_testing.py``), like
torchvision's ``test_models.py`` runs over ``list_models()``. Each check raises
``AssertionError`` with a message that names the plugin, the part that failed
and what was expected, and returns a report of what it verified. Nothing is
downloaded and it runs on a CPU in seconds at the default 64 px input.

Example (a plugin's ``tests/test_backbones.py``)::

    import torchvision
    from wsolkit.testing import check_backbone, check_extractor, check_method

    def test_my_backbone():
        check_backbone(
            "my_net",
            reference_state_dict=lambda: torchvision.models.my_net().state_dict(),
        )

    def test_my_method():
        check_method("my-method")

    def test_my_extractor():
        check_extractor("my-cam")

See docs/plugins.md for the plugin interface and what each check covers.
"""

from __future__ import annotations

from wsolkit.testing.backbone import check_backbone
from wsolkit.testing.extractor import check_extractor
from wsolkit.testing.method import BareBackbone, check_method
from wsolkit.testing.support import (
    BackboneReport,
    ExtractorReport,
    MethodOutcome,
    MethodReport,
    builtin_extractors,
    builtin_methods,
)

__all__ = [
    "BackboneReport",
    "BareBackbone",
    "ExtractorReport",
    "MethodOutcome",
    "MethodReport",
    "builtin_extractors",
    "builtin_methods",
    "check_backbone",
    "check_extractor",
    "check_method",
]
