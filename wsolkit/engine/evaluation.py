"""Evaluation of a model on a split: one forward per batch into a SplitEvaluation.

Each rank evaluates its own shard (no padding) with rank 0's weights; the
evaluation's count arrays are summed across ranks, so the numbers equal a
single-process evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wsolkit.data.metadata import SplitMetadata
from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.device import Precision
from wsolkit.engine.distributed import all_reduce_sum, sync_buffers, world_size
from wsolkit.metrics.scores import SplitScores, Taus
from wsolkit.settings import EvalProtocol


@dataclass(frozen=True)
class EvalContext:
    """What evaluation needs besides the model."""

    protocol: EvalProtocol
    metadata: SplitMetadata
    mask_root: Path | None
    device: torch.device
    precision: Precision
    channels_last: bool
    normalize: BatchNormalize  # the loaders hand over uint8 images


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
    taus: Taus | None = None,
    box_sets: dict[str, SplitMetadata] | None = None,
) -> SplitScores:
    """Top-1/Top-5 accuracy, MaxBoxAcc(V2) / Top-1 Loc (boxes) and PxAP (masks).

    ``curves`` keeps the BoxAcc curves and the precision-recall curve (test results);
    ``taus`` (val's best thresholds) also reads the split at them (``at_tau``);
    ``box_sets`` are the split with other boxes (pseudo-boxes), each evaluated on the same
    maps into ``box_sets`` of the scores.
    """
    from wsolkit.metrics import SplitEvaluation, normalize_scoremap

    sync_buffers(model)  # every shard is evaluated with rank 0's model, the one saved
    evaluation = SplitEvaluation(ctx.metadata, ctx.protocol, mask_root=ctx.mask_root)
    extra = {name: SplitEvaluation(meta, ctx.protocol) for name, meta in (box_sets or {}).items()}
    size = ctx.protocol.eval_size
    was_training = model.training
    model.eval()
    if callbacks and is_main:
        callbacks.on_eval_start(label, len(ctx.metadata))
    wanted = callbacks.cam_samples if callbacks and is_main else 0
    samples: list[tuple[Any, Any, str]] = []
    try:
        for batch in loader:
            if not batch.image_ids:
                continue
            images = ctx.normalize(batch.images.to(ctx.device, non_blocking=True))
            if ctx.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            labels = batch.labels.to(ctx.device, non_blocking=True)
            with ctx.precision.autocast():
                logits, cams, _ = method.cams(model, images, labels)
            top5 = logits.float().topk(min(5, logits.shape[1]), dim=1).indices
            scoremaps = [normalize_scoremap(cam, size) for cam in cams[:, 0].float().cpu().numpy()]
            predicted = top5.cpu().numpy()
            evaluation.accumulate(scoremaps, batch.image_ids, top5=predicted)
            if len(samples) < wanted:
                samples += _samples(batch, scoremaps, wanted - len(samples))
            for other in extra.values():
                other.accumulate(scoremaps, batch.image_ids, top5=predicted)
            if callbacks and is_main:
                callbacks.on_eval_step(len(labels) * world_size())
    finally:
        model.train(was_training)
    for each in (evaluation, *extra.values()):
        state = {key: all_reduce_sum(value, ctx.device) for key, value in each.state().items()}
        each.reset()
        each.merge(state)
    report = evaluation.compute()
    if taus is not None:
        report.read_at(taus)
    scores = report.scores(curves=curves)
    if extra:
        scores.box_sets = {name: e.compute().scores(curves=curves) for name, e in extra.items()}
    if callbacks and is_main:
        if samples:
            import numpy as np

            callbacks.on_cam_samples(
                label,
                np.stack([image for image, _, _ in samples]),
                np.stack([scoremap for _, scoremap, _ in samples]).astype(np.float32),
                [image_id for _, _, image_id in samples],
            )
        callbacks.on_eval_end(label, scores)
    return scores


def _samples(batch: Any, scoremaps: list[Any], k: int) -> list[tuple[Any, Any, str]]:
    """The first ``k`` images of ``batch`` as ``H×W×3`` uint8 arrays, with their maps."""
    arrays = batch.images[:k].permute(0, 2, 3, 1).contiguous().numpy()
    return list(zip(arrays, scoremaps[:k], batch.image_ids[:k], strict=True))
