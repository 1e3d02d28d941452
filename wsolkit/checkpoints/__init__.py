"""Checkpoints of the field's reference code, imported into wsolkit's models.

The layer between ``backbones``/``methods`` and ``engine``: pure functions on
loaded objects (the engine reads files). The formats (:data:`FORMATS`) are
wsolevaluation, bridging-gap and DA-WSOL / BagCAMs; their key tables are facts
taken from the reference code, applied by one function
(:func:`~wsolkit.checkpoints.rules.apply_rules`)::

    container = torch.load(path, weights_only=True)
    name, reason = detect(container)
    source = read_source(container, name)
    converted = convert(source, backbone="vgg16", method="cam", large_feature_map=False)
    model.load_state_dict(converted.state_dict, strict=True)
"""

from __future__ import annotations

from wsolkit.checkpoints.convert import Converted, convert
from wsolkit.checkpoints.detect import detect
from wsolkit.checkpoints.formats import FORMATS, Layout, SourceFormat
from wsolkit.checkpoints.matching import expected_keys, matching_layouts, target_shapes
from wsolkit.checkpoints.rules import RESHAPES, CheckpointImportError, Rule
from wsolkit.checkpoints.source import SourceWeights, read_source, source_state_dict

__all__ = [
    "FORMATS",
    "RESHAPES",
    "CheckpointImportError",
    "Converted",
    "Layout",
    "Rule",
    "SourceFormat",
    "SourceWeights",
    "convert",
    "detect",
    "expected_keys",
    "matching_layouts",
    "read_source",
    "source_state_dict",
    "target_shapes",
]
