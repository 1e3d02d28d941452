"""``check_extractor``: does a score-map extractor plugin keep the interface of docs/plugins.md?"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor

from wsolkit.backbones import Backbone
from wsolkit.extractors import ExtractorParams, ScoreMapExtractor, StageError
from wsolkit.methods import CamResult, WsolMethod, WsolModel
from wsolkit.registry import extractors
from wsolkit.testing.method import check_refusals
from wsolkit.testing.support import (
    ExtractorReport,
    Subject,
    describe,
    resolve_backbone,
    resolve_extractor,
    resolve_method,
    seeded,
)

BATCH = 2
NOT_A_STAGE = "not-a-stage"


def check_extractor_params(subject: Subject, cls: type[ScoreMapExtractor]) -> None:
    """``Params``: forbids unknown keys, documents every field, enforces ranges; JSON details."""
    params_cls = cls.Params
    subject.expect(
        isinstance(params_cls, type) and issubclass(params_cls, ExtractorParams),
        "Params must subclass wsolkit.extractors.ExtractorParams",
    )
    subject.expect(
        params_cls.model_config.get("extra") == "forbid", "Params must set extra='forbid'"
    )
    undocumented = [n for n, f in params_cls.model_fields.items() if not f.description]
    subject.expect(
        not undocumented, f"Params fields without Field(description=...): {undocumented}"
    )
    default = cls()
    subject.expect(
        cls(default.params.model_dump()).params == default.params,
        "Params do not survive model_dump() → cls()",
    )
    check_refusals(subject, cls, params_cls, "extractor")
    try:
        details = json.loads(json.dumps(cls.plugin_details()))
    except (TypeError, ValueError) as exc:
        subject.fail(f"plugin_details() is not JSON-serializable: {exc}")
    missing = {"needs_gradients", "hyperparameters", "default_stage"} - set(details)
    subject.expect(not missing, f"plugin_details() lacks {sorted(missing)}")


def check_extractor_class(
    subject: Subject, cls: type[ScoreMapExtractor], registered: str | None
) -> None:
    """Name, one-line description, ``needs_gradients``, ``Params``."""
    subject.expect(
        isinstance(cls, type) and issubclass(cls, ScoreMapExtractor),
        f"{cls!r} is not a subclass of wsolkit.extractors.ScoreMapExtractor",
    )
    subject.expect(cls.name, "the class attribute 'name' is empty")
    if registered is not None:
        subject.expect(
            cls.name == registered or extractors.load(cls.name) is cls,
            f"registered as '{registered}' but its name '{cls.name}' is not registered to it",
        )
    text = cls.description.strip()
    subject.expect(text and "\n" not in text, "'description' must be one non-empty line")
    subject.expect(isinstance(cls.needs_gradients, bool), "'needs_gradients' must be a bool")
    check_extractor_params(subject, cls)


def _stage_error(subject: Subject, call: Callable[[], object], what: str) -> StageError | None:
    """Run ``call``; return its ``StageError`` (checked to be one line) or ``None``."""
    try:
        call()
    except StageError as exc:
        subject.expect("\n" not in str(exc), f"{what}: the StageError is not one line: {exc}")
        return exc
    return None


def check_stages(
    subject: Subject, extractor: ScoreMapExtractor, backbone: Backbone, bname: str
) -> tuple[str | None, str | None]:
    """Stage resolution: ``(default stage, inner stage accepted or None)``."""
    names = backbone.stage_names
    default = extractor.resolve_stage(backbone, None)
    subject.expect(
        default is None or default in names,
        f"resolve_stage(backbone, None) gave {default!r}, not None or a stage ({names})",
    )
    final = extractor.resolve_stage(backbone, names[-1])
    subject.expect(final == names[-1], f"the final stage '{names[-1]}' resolved to {final!r}")
    exc = _stage_error(
        subject, lambda: extractor.resolve_stage(backbone, NOT_A_STAGE), "an unknown stage"
    )
    subject.expect(exc is not None, f"the unknown stage '{NOT_A_STAGE}' was accepted")
    for part in (f"'{NOT_A_STAGE}'", f"'{extractor.name}'", f"'{bname}'"):
        subject.expect(part in str(exc), f"the unknown-stage error does not name {part}: {exc}")
    inner = names[-2] if len(names) > 1 else None
    if inner is None:
        return default, None
    box: list[str | None] = []
    refused = _stage_error(
        subject, lambda: box.append(extractor.resolve_stage(backbone, inner)), "an inner stage"
    )
    if refused is not None:
        return default, None
    subject.expect(box == [inner], f"stage '{inner}' resolved to {box[0]!r}")
    return default, inner


def _close(a: Tensor, b: Tensor) -> bool:
    scale = float(b.abs().max()) if b.numel() else 0.0
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale + 1e-12)


def _check_result(
    s: Subject, result: object, shape: tuple[int, ...], classes: Tensor, logits: Tensor
) -> CamResult:
    s.expect(isinstance(result, CamResult), f"returned {describe(result)}, not a CamResult")
    assert isinstance(result, CamResult)
    s.expect(
        tuple(result.cams.shape) == shape,
        f"maps {describe(result.cams)}, expected {shape} (B×k at the stage's resolution, "
        "as map_shape says)",
    )
    s.expect(result.cams.dtype == torch.float32, f"maps are {result.cams.dtype}, not float32")
    s.expect(bool(torch.isfinite(result.cams).all()), "non-finite values in the maps")
    s.expect(
        not result.cams.requires_grad and not result.logits.requires_grad,
        "the returned tensors require grad (detach them)",
    )
    s.expect(
        result.logits.shape == logits.shape and _close(result.logits, logits),
        f"logits {describe(result.logits)} differ from the eval-mode forward pass",
    )
    s.expect(
        torch.equal(result.classes.cpu(), classes.reshape(classes.shape[0], -1)),
        f"classes {result.classes.tolist()}, expected {classes.tolist()} as B×k",
    )
    return result


def check_extraction(
    subject: Subject,
    extractor: ScoreMapExtractor,
    method: WsolMethod,
    model: WsolModel,
    stage: str | None,
    *,
    input_size: int,
    num_classes: int,
    seed: int,
) -> tuple[int, int]:
    """One stage: shapes, dtype, inference mode, batch independence, determinism."""
    s = subject.within(f"stage {stage!r}")
    h, w = extractor.map_shape(method, model, input_size, stage)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(BATCH, 3, input_size, input_size, generator=generator)
    labels = torch.tensor([0, num_classes - 1])
    top2 = torch.stack([labels, (labels + 1) % num_classes], dim=1)
    try:
        with torch.inference_mode():  # as the export loop runs: the images are inference tensors
            x = images.clone()
            logits = model.infer(x)[0]
            one = extractor.extract(method, model, x, labels, stage=stage)
            two = extractor.extract(method, model, x, top2, stage=stage)
            again = extractor.extract(method, model, x, labels, stage=stage)
            alone = extractor.extract(method, model, x[1:], labels[1:], stage=stage)
    except (RuntimeError, ValueError, TypeError) as exc:
        s.fail(
            f"extract() under torch.inference_mode() raised {type(exc).__name__}: {exc} "
            "(re-enable autograd locally: torch.inference_mode(False), torch.enable_grad())"
        )
    one = _check_result(s.within("classes B"), one, (BATCH, 1, h, w), labels, logits)
    two = _check_result(s.within("classes B×2"), two, (BATCH, 2, h, w), top2, logits)
    s.expect(torch.equal(one.cams, again.cams), "two identical calls gave different maps")
    s.expect(_close(two.cams[:, :1], one.cams), "the first of B×2 classes differs from classes B")
    s.expect(
        _close(alone.cams, one.cams[1:]), "an image's map depends on the other images of the batch"
    )
    plain = extractor.extract(method, model, images, labels, stage=stage)
    s.expect(_close(plain.cams, one.cams), "maps differ outside torch.inference_mode()")
    with torch.no_grad():
        quiet = extractor.extract(method, model, images, labels, stage=stage)
    s.expect(_close(quiet.cams, one.cams), "maps differ under torch.no_grad()")
    return h, w


def _sentinel_grad(model: WsolModel) -> Callable[[Subject], None]:
    """Give one parameter a known ``.grad`` (the others none); the returned check verifies both."""
    params = list(model.parameters())
    for p in params:
        p.grad = None
    params[0].grad = torch.full_like(params[0], 7.0)

    def verify(subject: Subject) -> None:
        changed = [i for i, p in enumerate(params[1:], 1) if p.grad is not None]
        kept = params[0].grad is not None and bool((params[0].grad == 7.0).all())
        subject.expect(not changed and kept, "a parameter's .grad changed (use autograd.grad)")

    return verify


def check_extractor(
    extractor: str | type[ScoreMapExtractor],
    *,
    params: BaseModel | Mapping[str, Any] | None = None,
    backbone: str | type[Backbone] = "tiny",
    method: str | type[WsolMethod] = "cam",
    input_size: int = 64,
    num_classes: int = 5,
    seed: int = 0,
) -> ExtractorReport:
    """Check an extractor against the plugin interface; ``AssertionError`` at the first problem.

    Checks: name, one-line description, ``needs_gradients``; the ``Params`` model (extra
    keys forbidden, every field described, a typo and each out-of-range value raise
    ``SettingsError`` naming ``extractor.<key>``, JSON details); stages (the default
    resolves to ``None`` or a stage, the final stage is accepted, an unknown one raises a
    one-line ``StageError`` naming it, the extractor and the backbone; the inner stage
    before the last is accepted or refused with a ``StageError``). Then, on ``method``
    built on ``backbone`` in eval mode, for the default and the inner stage: under
    ``torch.inference_mode()`` maps are B×k×h×w float32 and finite for classes B and B×2,
    with (h, w) = ``map_shape``; logits equal the eval forward pass; results are
    deterministic, the same outside inference mode and under ``no_grad``, and an image's
    map does not depend on the other images; no parameter's ``.grad`` changes and the
    model stays in eval mode.

    Example::

        check_extractor("grad-cam")
        check_extractor("bagcams", params={"published_pipeline": True})
    """
    cls, label = resolve_extractor(extractor)
    subject = Subject(label)
    check_extractor_class(subject, cls, extractor if isinstance(extractor, str) else None)
    instance = cls() if params is None else cls(params)
    bcls, blabel = resolve_backbone(backbone)
    mcls, _ = resolve_method(method)
    s = subject.within(f"on {blabel}, method '{mcls.name}'")
    wsol = mcls()
    with seeded(seed):
        model = wsol.build(bcls(num_classes=num_classes, weights="none"))
    model.eval()
    net = model.backbone
    default, inner = check_stages(s, instance, net, bcls.name)
    verify_grads = _sentinel_grad(model)
    sizes = {}
    for stage in (None, inner) if inner is not None else (None,):
        sizes[stage] = check_extraction(
            s,
            instance,
            wsol,
            model,
            stage,
            input_size=input_size,
            num_classes=num_classes,
            seed=seed,
        )
    verify_grads(s)
    s.expect(not model.training, "the model left eval mode")
    return ExtractorReport(
        cls.name,
        bcls.name,
        mcls.name,
        cls.needs_gradients,
        default,
        inner,
        sizes,
        tuple(cls.Params.model_fields),
    )
