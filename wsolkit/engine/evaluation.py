"""Evaluation of a model on a split: classification accuracy and localization.

Each rank evaluates its own shard (no padding); the evaluators' count arrays are
summed across ranks, so the numbers equal a single-process evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsolkit.data.metadata import SplitMetadata
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.device import Precision
from wsolkit.engine.distributed import all_reduce_sum, sync_buffers
from wsolkit.settings import Settings


@dataclass
class EvalContext:
    """What evaluation needs besides the model."""

    settings: Settings
    metadata: SplitMetadata
    mask_root: Path | None
    device: torch.device
    precision: Precision
    channels_last: bool


def _evaluators(ctx: EvalContext) -> dict[str, Any]:
    from wsolkit.metrics.run import split_evaluators

    e = ctx.settings.eval
    box, mask = split_evaluators(
        ctx.metadata,
        mask_root=ctx.mask_root,
        eval_size=ctx.settings.data.eval_size,
        cam_curve_interval=e.cam_curve_interval,
        iou_thresholds=e.iou_thresholds,
        multi_contour=e.multi_contour,
    )
    return {name: ev for name, ev in (("box", box), ("mask", mask)) if ev is not None}


@torch.no_grad()
def evaluate(
    method: Any,
    model: torch.nn.Module,
    loader: Any,
    ctx: EvalContext,
    callbacks: Callbacks | None = None,
    label: str = "val",
    is_main: bool = True,
    curves: bool = False,
) -> dict[str, Any]:
    """Top-1/Top-5 accuracy, MaxBoxAcc(V2) / Top-1 Loc (boxes) and PxAP (masks).

    ``curves`` adds the BoxAcc curves and the precision-recall curve (test results).
    """
    from wsolkit.metrics import normalize_scoremap

    sync_buffers(model)  # every shard is evaluated with rank 0's model, the one saved
    evaluators = _evaluators(ctx)
    size = ctx.settings.data.eval_size
    counts = np.zeros(3, dtype=np.float64)  # images, top-1 correct, top-5 correct
    was_training = model.training
    model.eval()
    if callbacks and is_main:
        callbacks.on_eval_start(label, len(ctx.metadata))
    try:
        for batch in loader:
            if not batch.image_ids:
                continue
            images, labels, image_ids = batch.images, batch.labels, batch.image_ids
            images = images.to(ctx.device, non_blocking=True)
            if ctx.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            labels = labels.to(ctx.device, non_blocking=True)
            with ctx.precision.autocast():
                logits, cams, _ = method.cams(model, images, labels)
            cams = cams[:, 0]  # the ground-truth class
            k = min(5, logits.shape[1])
            top5 = logits.float().topk(k, dim=1).indices
            counts += (
                len(labels),
                (top5[:, 0] == labels).sum().item(),
                (top5 == labels[:, None]).any(dim=1).sum().item(),
            )
            predicted = top5[:, 0].tolist()
            cams_np = cams.float().cpu().numpy()
            for cam, image_id, pred in zip(cams_np, image_ids, predicted, strict=True):
                scoremap = normalize_scoremap(cam, size)
                for name, evaluator in evaluators.items():
                    if name == "box":
                        evaluator.accumulate(scoremap, image_id, predicted_class=pred)
                    else:
                        evaluator.accumulate(scoremap, image_id)
            if callbacks and is_main:
                callbacks.on_eval_step(len(labels) * _world())
    finally:
        model.train(was_training)
    counts = all_reduce_sum(counts, ctx.device)
    for evaluator in evaluators.values():
        merged = {k: all_reduce_sum(v, ctx.device) for k, v in evaluator.state().items()}
        evaluator.reset()
        evaluator.merge_state(merged)
    result = _summarize(counts, {k: v.compute() for k, v in evaluators.items()}, curves)
    if callbacks and is_main:
        callbacks.on_eval_end(label, result)
    return result


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _summarize(counts: np.ndarray, results: dict[str, Any], curves: bool) -> dict[str, Any]:
    from wsolkit.metrics import EvaluationReport

    images = max(counts[0], 1)
    report = EvaluationReport(results.get("box"), results.get("mask"))
    return {
        "images": int(counts[0]),
        "top1": 100.0 * counts[1] / images,
        "top5": 100.0 * counts[2] / images,
        **report.scores(curves=curves),
    }
