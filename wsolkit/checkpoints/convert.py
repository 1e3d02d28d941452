"""Convert a reference checkpoint's weights for wsolkit's model of a backbone and method.

:func:`convert` renames the weights by the layout's rules and checks every key,
every shape, the class count (read from the classifier) and — where the weights
tell — the feature-map size; its :class:`Converted` ``state_dict`` loads into
``methods.create(method).build(backbones.create(backbone, num_classes=K,
large_feature_map=…))`` with ``strict=True``. Every refusal is one
:class:`~wsolkit.checkpoints.rules.CheckpointImportError` line that names the
key or value and what would fit instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from wsolkit import registry
from wsolkit.checkpoints.formats import Layout, SourceFormat
from wsolkit.checkpoints.matching import (
    expected_keys,
    fits_text,
    key_differences,
    matching_layouts,
    target_shapes,
)
from wsolkit.checkpoints.rules import CheckpointImportError, apply_rules, invert_key
from wsolkit.checkpoints.source import SourceWeights, preview, source_format


@dataclass(frozen=True)
class Converted:
    """Weights for wsolkit's model, and what the import did and checked.

    Attributes:
        state_dict: exactly the keys and shapes of wsolkit's model state dict.
        num_classes: the class count, read from the classifier's weight.
        format, backbone, method, large_feature_map: what was imported, as wsolkit names it.
        layout: the reference architecture the keys were read as.
        mapping: the rules applied, one per line (for provenance).
        notes: what the user should know (dropped keys, settings taken on trust …).
        confirmed: the settings the weights confirmed (``num_classes`` always).
    """

    state_dict: dict[str, Tensor]
    num_classes: int
    format: str
    backbone: str
    method: str
    large_feature_map: bool
    layout: Layout
    mapping: str
    notes: tuple[str, ...]
    confirmed: tuple[str, ...]


def _canonical(kind: registry.Registry, name: str) -> str:
    """The plugin's own name for ``name`` (``bridging-gap`` → ``aligned-eil``)."""
    return str(getattr(kind.load(name), "name", "") or name)


def _choose_layout(
    source: SourceWeights, fmt: SourceFormat, backbone: str, method: str, lfm: bool
) -> Layout:
    layouts = fmt.layouts_for(backbone, method)
    if not layouts:
        offered = "; ".join(f"{b}: {', '.join(m)}" for b, m in fmt.combinations().items())
        raise CheckpointImportError(
            f"format '{fmt.name}' has no layout for backbone '{backbone}' with method "
            f"'{method}' (it has {offered}); {fits_text(matching_layouts(source))}"
        )
    return next(lay for lay in layouts if lay.large_feature_map in (None, lfm))


def _key_mismatch(
    source: SourceWeights,
    fmt: SourceFormat,
    layout: Layout,
    missing: list[str],
    unexpected: list[str],
    lfm: bool,
    origin: str,
) -> CheckpointImportError:
    matches = matching_layouts(source)
    for name, other in matches:
        if (
            name == fmt.name
            and other.backbone == layout.backbone
            and set(other.methods) == set(layout.methods)
            and other.large_feature_map is not None
            and other.large_feature_map != lfm
        ):
            size = "28×28" if other.large_feature_map else "14×14"
            return CheckpointImportError(
                f"large_feature_map={lfm} contradicts the weights of {origin}: their key names "
                f"are those of the {size} network ({other.reference}); pass "
                f"large_feature_map={other.large_feature_map}"
            )
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key(s): {preview(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key(s): {preview(unexpected)}")
    return CheckpointImportError(
        f"{origin} does not fit --from {fmt.name} {layout.label()} "
        f"({layout.reference}): {', '.join(parts)}; {fits_text(matches)}"
    )


def convert(
    source: SourceWeights,
    *,
    backbone: str,
    method: str,
    large_feature_map: bool,
    num_classes: int | None = None,
    origin: str = "the file",
) -> Converted:
    """Rename and check ``source`` for wsolkit's model of ``backbone`` and ``method``.

    ``num_classes`` is read from the classifier's weight; a given value only
    confirms it. ``large_feature_map`` is checked against the key names where
    they differ (VGG16) and trusted elsewhere (see :mod:`wsolkit.checkpoints.formats`).
    """
    fmt = source_format(source.format)
    backbone = _canonical(registry.backbones, backbone)
    method = _canonical(registry.methods, method)
    recorded = source.records.get("architecture")
    if isinstance(recorded, str) and recorded != backbone:
        raise CheckpointImportError(
            f"{origin} records architecture '{recorded}' but backbone '{backbone}' was asked "
            f"for; use --backbone {recorded}"
        )
    layout = _choose_layout(source, fmt, backbone, method, large_feature_map)
    missing, unexpected, _ = key_differences(source.state, layout, method)
    if missing or unexpected:
        raise _key_mismatch(source, fmt, layout, missing, unexpected, large_feature_map, origin)
    mapped, dropped, used, _ = apply_rules(source.state, layout.rules)
    classifier = source.state[layout.classifier]
    if classifier.dim() < 2:
        raise CheckpointImportError(
            f"{origin}: the classifier weight '{layout.classifier}' has shape "
            f"{tuple(classifier.shape)}, not classes × channels; the file is damaged"
        )
    classes = int(classifier.shape[0])
    if num_classes is not None and num_classes != classes:
        raise CheckpointImportError(
            f"num_classes={num_classes} contradicts {origin}: its classifier "
            f"'{layout.classifier}' has {classes} rows {tuple(classifier.shape)}; pass "
            f"{classes} or leave num_classes out"
        )
    shapes = target_shapes(backbone, method, large_feature_map, classes)
    wrong = [k for k in shapes if tuple(mapped[k].shape) != shapes[k]]
    if wrong:
        key, more = wrong[0], f" (+{len(wrong) - 1} more)" if len(wrong) > 1 else ""
        name = invert_key(key, layout.rules) or key
        raise CheckpointImportError(
            f"{origin}: '{name}' has shape {tuple(source.state[name].shape)}, but wsolkit's "
            f"{backbone} / {method} with {classes} classes needs {shapes[key]} for '{key}'"
            f"{more}; the file is not a {fmt.name} {layout.label()} network"
        )
    notes, confirmed = _notes(source, fmt, layout, dropped, method, large_feature_map)
    return Converted(
        state_dict={k: mapped[k] for k in shapes},
        num_classes=classes,
        format=fmt.name,
        backbone=backbone,
        method=method,
        large_feature_map=large_feature_map,
        layout=layout,
        mapping="\n".join(rule.describe() for rule in used),
        notes=tuple(notes),
        confirmed=tuple(confirmed),
    )


def _notes(
    source: SourceWeights,
    fmt: SourceFormat,
    layout: Layout,
    dropped: list[str],
    method: str,
    lfm: bool,
) -> tuple[list[str], list[str]]:
    """What the import did beyond renaming, and which settings the weights confirmed."""
    notes: list[str] = []
    confirmed = ["num_classes"]
    if layout.large_feature_map is None:
        if registry.backbones.load(layout.backbone).supports_large_feature_map:
            notes.append(
                f"large_feature_map={lfm} is taken as given: {layout.backbone}'s weights are "
                "the same for both feature-map sizes"
            )
        # else: one feature-map size (a transformer), refused by the backbone itself
    else:
        confirmed.append("large_feature_map")
    keys = expected_keys(layout, method).keys()
    alike = {
        m
        for other in fmt.layouts
        if other.backbone == layout.backbone
        and other.large_feature_map in (None, lfm)
        and expected_keys(other).keys() == keys
        for m in other.methods
    }
    if len(alike) > 1:
        notes.append(
            f"method '{method}' is taken as given: {', '.join(sorted(alike))} have the same "
            f"weights in {fmt.name}"
        )
    else:
        confirmed.append("method")
    notes += [rule.describe() for rule in layout.rules if rule.reshape is not None]
    notes += layout.notes
    if dropped:
        whys = {rule.why for rule in layout.rules if rule.target is None and rule.why}
        notes.append(f"not imported: {preview(dropped)} ({'; '.join(sorted(whys))})")
    if source.unwrapped:
        notes.append(f"removed 'module.' (DataParallel / DDP) from {source.unwrapped} key(s)")
    if source.ignored:
        notes.append(f"container entries not imported: {preview(list(source.ignored))}")
    return notes, confirmed
