"""One training step and one CAM inference of a method on a backbone, as the trainer runs them.

The sequence is docs/backbone-interface.md's "one training step and one CAM
inference": ``prepare_batch`` → ``model(images)`` → ``losses`` → backward → SGD
step over ``model.parameter_groups``; then ``method.cams`` in eval mode under
``torch.inference_mode()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from wsolkit.backbones import GROUP_RECIPES, Backbone
from wsolkit.methods import CamResult, Targets, WsolMethod, WsolModel
from wsolkit.testing.support import StepResult, Subject, describe

BATCH = 2


class _Wrapper(torch.nn.Module):
    """Stands for DistributedDataParallel: the model is its ``module`` (``cams`` must unwrap it)."""

    def __init__(self, module: WsolModel) -> None:
        super().__init__()
        self.module = module


def check_parameter_groups(subject: Subject, module: Backbone | WsolModel) -> None:
    """Each recipe's groups hold every parameter exactly once, under its own name."""
    params = dict(module.named_parameters())
    for recipe in GROUP_RECIPES:
        s = subject.within(f"parameter_groups({recipe!r})")
        groups = module.parameter_groups(recipe)  # type: ignore[arg-type]
        listed = groups.pretrained + groups.new
        names = [n for n, _ in listed]
        twice = sorted({n for n in names if names.count(n) > 1})
        s.expect(not twice, f"parameters listed twice: {twice[:5]}")
        ids = [id(p) for _, p in listed]
        s.expect(len(set(ids)) == len(ids), "one parameter object is listed under two names")
        missing = sorted(set(params) - set(names))
        s.expect(not missing, f"parameters in no group: {missing[:5]} ({len(missing)} in all)")
        unknown = sorted(set(names) - set(params))
        s.expect(not unknown, f"names that are not parameters of the module: {unknown[:5]}")
        wrong = [n for n, p in listed if params[n] is not p]
        s.expect(not wrong, f"names paired with another parameter object: {wrong[:5]}")
        s.expect(groups.new, "the 'new' group is empty: the head, at least, is a new layer")
        opt = groups.optimizer_groups(0.01, 10.0)
        s.expect(
            [g["lr"] for g in opt] == [0.01, 0.1]
            and sum(len(g["params"]) for g in opt) == len(params),
            "optimizer_groups(lr, ratio) must give [pretrained at lr, new at lr × ratio]",
        )


def _finite_scalars(subject: Subject, losses: Mapping[str, Tensor]) -> dict[str, float]:
    subject.expect(isinstance(losses, Mapping), f"losses() returned {describe(losses)}")
    subject.expect("total" in losses, f"losses() has no 'total' term: {sorted(losses)}")
    values = {}
    for name, value in losses.items():
        subject.expect(
            isinstance(value, Tensor) and value.dim() == 0,
            f"loss term '{name}' is {describe(value)}, not a 0-dim tensor",
        )
        values[name] = float(value.detach())
        subject.expect(math.isfinite(values[name]), f"loss term '{name}' is {values[name]}")
    subject.expect(losses["total"].requires_grad, "the 'total' loss does not require grad")
    return values


def _check_training_outputs(
    subject: Subject, model: WsolModel, outputs: object, num_classes: int
) -> Tensor:
    """Training outputs: a mapping with logits B×K and features B×C×h×w; returns the features."""
    subject.expect(isinstance(outputs, Mapping), f"model(images) returned {describe(outputs)}")
    assert isinstance(outputs, Mapping)
    logits, features = outputs.get("logits"), outputs.get("features")
    subject.expect(
        isinstance(logits, Tensor) and logits.shape == (BATCH, num_classes),
        f"training outputs['logits'] is {describe(logits)}, expected ({BATCH}, {num_classes})",
    )
    channels = model.backbone.feature_channels
    subject.expect(
        isinstance(features, Tensor) and features.dim() == 4 and features.shape[1] == channels,
        f"training outputs['features'] is {describe(features)}, expected B×{channels}×h×w",
    )
    assert isinstance(features, Tensor)
    return features


def _backward_and_step(
    subject: Subject, model: WsolModel, total: Tensor, opt: torch.optim.Optimizer
) -> None:
    """Every parameter gets a finite gradient; the step moves each with a non-zero gradient."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt.zero_grad(set_to_none=True)
    total.backward()
    named = dict(model.named_parameters())
    no_grad = [n for n, p in named.items() if p.grad is None]
    subject.expect(
        not no_grad,
        f"{len(no_grad)} parameter(s) got no gradient (DistributedDataParallel without "
        f"find_unused_parameters fails on them): {no_grad[:5]}",
    )
    bad = [n for n, p in named.items() if not torch.isfinite(p.grad).all()]  # type: ignore[arg-type]
    subject.expect(not bad, f"non-finite gradients in {bad[:5]}")
    opt.step()
    moving = [n for n, p in named.items() if p.grad.abs().sum() > 0]  # type: ignore[union-attr]
    stuck = [n for n in moving if torch.equal(before[n], named[n].detach())]
    subject.expect(moving, "every gradient is zero: the loss does not depend on the parameters")
    subject.expect(
        not stuck, f"the SGD step left parameters with a gradient unchanged: {stuck[:5]}"
    )


def train_step(
    subject: Subject,
    method: WsolMethod,
    model: WsolModel,
    *,
    input_size: int,
    num_classes: int,
    generator: torch.Generator,
) -> tuple[dict[str, float], tuple[int, int]]:
    """One SGD step as the trainer runs it; returns the loss values and the feature-map size."""
    check_parameter_groups(subject, model)
    model.train()
    groups = model.parameter_groups("bridging-gap")
    opt = torch.optim.SGD(groups.optimizer_groups(0.01, 10.0), lr=0.01, momentum=0.9)
    images = torch.randn(BATCH, 3, input_size, input_size, generator=generator)
    labels = torch.tensor([1 % num_classes, num_classes - 1])
    prepared, targets = method.prepare_batch(images, labels, generator)
    subject.expect(
        isinstance(prepared, Tensor) and prepared.shape == images.shape,
        f"prepare_batch returned images {describe(prepared)} for input {describe(images)}",
    )
    subject.expect(isinstance(targets, Targets), f"prepare_batch returned {describe(targets)}")
    outputs = model(prepared, targets.labels) if model.takes_labels else model(prepared)
    features = _check_training_outputs(subject, model, outputs, num_classes)
    losses = method.losses(outputs, targets, epoch=1, warm_epochs=1)
    values = _finite_scalars(subject, losses)
    _backward_and_step(subject, model, losses["total"], opt)
    return values, (features.shape[-2], features.shape[-1])


def check_cams(
    subject: Subject, method: WsolMethod, model: WsolModel, *, input_size: int, num_classes: int
) -> tuple[int, int]:
    """Eval outputs, then ``method.cams`` for given classes and the top-2, in inference mode."""
    model.eval()
    images = torch.randn(BATCH, 3, input_size, input_size)
    labels = torch.tensor([0, num_classes - 1])
    with torch.inference_mode():
        outputs = model(images)
        subject.expect(
            isinstance(outputs, Mapping) and {"logits", "features"} <= set(outputs),
            f"eval-mode model(images) must return 'logits' and 'features', got "
            f"{sorted(outputs) if isinstance(outputs, Mapping) else describe(outputs)}",
        )
        side = tuple(outputs["features"].shape[-2:])
        given = method.cams(model, images, labels)
        top = method.cams(_Wrapper(model), images, topk=min(2, num_classes))
    k = min(2, num_classes)
    for what, result, width in (("cams(model, images, labels)", given, 1), ("top-k", top, k)):
        subject.expect(isinstance(result, CamResult), f"{what} returned {describe(result)}")
        subject.expect(
            result.logits.shape == (BATCH, num_classes),
            f"{what}: logits {describe(result.logits)}, expected ({BATCH}, {num_classes})",
        )
        subject.expect(
            tuple(result.cams.shape) == (BATCH, width, *side),
            f"{what}: cams {describe(result.cams)}, expected {(BATCH, width, *side)} "
            "(B×k at the final feature map's resolution)",
        )
        subject.expect(torch.isfinite(result.cams).all(), f"{what}: non-finite CAM values")
        subject.expect(
            torch.allclose(result.logits.float(), outputs["logits"].float(), atol=1e-4, rtol=1e-4),
            f"{what}: logits differ from the eval-mode forward pass",
        )
    subject.expect(
        torch.equal(given.classes.view(-1).cpu(), labels),
        f"cams(..., labels).classes is {given.classes.tolist()}, expected {labels.tolist()}",
    )
    expected_top = top.logits.topk(k, dim=1).indices
    subject.expect(
        torch.equal(top.classes.cpu(), expected_top.cpu()),
        f"cams(..., topk={k}).classes is {top.classes.tolist()}, "
        f"expected the top-{k} of the logits {expected_top.tolist()}",
    )
    return side  # type: ignore[return-value]


def step_and_cams(
    subject: Subject,
    method: WsolMethod,
    model: WsolModel,
    *,
    input_size: int,
    num_classes: int,
    seed: int,
) -> StepResult:
    """:func:`train_step` then :func:`check_cams` (the cams of the freshly stepped model)."""
    generator = torch.Generator().manual_seed(seed)
    losses, features = train_step(
        subject, method, model, input_size=input_size, num_classes=num_classes, generator=generator
    )
    cam_size = check_cams(subject, method, model, input_size=input_size, num_classes=num_classes)
    return StepResult(losses, features, cam_size)
