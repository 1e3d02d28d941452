"""The description of a checkpoint format: its layouts (architectures) and what it saves.

A :class:`Layout` is one reference architecture with the ordered
:class:`~wsolkit.checkpoints.rules.Rule` table that renames its state-dict keys
to those of wsolkit's model (``methods.create(method).build(backbones.create(
backbone, …))``, whose keys all start with ``backbone.``). A
:class:`SourceFormat` groups the layouts of one reference repository with what
its trainer saves. The tables themselves are in ``wsolevaluation.py``,
``bridging_gap.py`` and ``da_wsol.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsolkit.checkpoints.rules import Rule

KEEP = Rule("", "backbone.")  # the trunk: the same names as wsolkit's backbone
FC = Rule("fc.", "backbone.head.fc.")  # the linear classifier of VGG16-GAP and ResNet50
CAM_METHODS = ("cam", "has", "cutmix")  # the references build one 'cam' network for these


@dataclass(frozen=True)
class Layout:
    """One reference architecture of a format and the rules onto wsolkit's model.

    Attributes:
        backbone: wsolkit backbone name.
        architecture: the reference's name for it (its ``architecture_type``).
        methods: wsolkit methods whose model has this layout.
        rules: ordered rename rules, first match wins.
        classifier: the reference key whose first dimension is the class count.
        large_feature_map: the feature-map setting these key names imply, or None
            when the weights are the same either way (the flag is then trusted).
        reference: where the reference code builds this network.
        notes: what a user of these weights should know (added to the import's notes).
    """

    backbone: str
    architecture: str
    methods: tuple[str, ...]
    rules: tuple[Rule, ...]
    classifier: str
    large_feature_map: bool | None
    reference: str
    notes: tuple[str, ...] = ()

    def label(self) -> str:
        """``vgg16 / adl (large_feature_map=True)``: names the layout in messages."""
        text = f"{self.backbone} / {'|'.join(self.methods)}"
        if self.large_feature_map is not None:
            text += f" (large_feature_map={self.large_feature_map})"
        return text


@dataclass(frozen=True)
class SourceFormat:
    """A checkpoint format: its origin, what the saved dict holds, and its layouts.

    Attributes:
        name: the ``--from`` value.
        repository: the reference repository.
        summary: one line for ``--help``.
        saved_by: the reference function that writes the file.
        container: every key of the dict the reference saves.
        weights: ``(container key, prefix)`` of each state dict holding weights; the
            prefix is put before its keys so several state dicts form one namespace.
        records: container keys holding plain metadata worth keeping (architecture, epoch).
        bare: whether a bare state dict (no container) may be this format.
        layouts: the architectures this importer knows.
    """

    name: str
    repository: str
    summary: str
    saved_by: str
    container: tuple[str, ...]
    weights: tuple[tuple[str, str], ...]
    records: tuple[str, ...]
    bare: bool
    layouts: tuple[Layout, ...]

    @property
    def backbones(self) -> tuple[str, ...]:
        """The wsolkit backbones this format has layouts for, in table order."""
        return tuple(dict.fromkeys(layout.backbone for layout in self.layouts))

    @property
    def methods(self) -> tuple[str, ...]:
        """The wsolkit methods this format has layouts for, in table order."""
        return tuple(dict.fromkeys(m for layout in self.layouts for m in layout.methods))

    def combinations(self) -> dict[str, tuple[str, ...]]:
        """``{backbone: methods}`` this format supports."""
        found: dict[str, dict[str, None]] = {}
        for layout in self.layouts:
            found.setdefault(layout.backbone, {}).update(dict.fromkeys(layout.methods))
        return {backbone: tuple(methods) for backbone, methods in found.items()}

    def layouts_for(self, backbone: str, method: str) -> tuple[Layout, ...]:
        """The layouts of ``(backbone, method)`` (one, or one per feature-map size)."""
        return tuple(
            layout
            for layout in self.layouts
            if layout.backbone == backbone and method in layout.methods
        )
