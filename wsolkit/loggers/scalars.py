"""The names loggers give the numbers of a run: one scheme for every logger.

An epoch record of ``metrics.jsonl`` becomes, at step = the epoch::

    train/loss/<term>            train_loss (every loss term, "total" included)
    train/top1                   train_top1
    train/images_per_s           images_per_s
    train/time_s                 time_s
    train/batch_size             batch_size
    train/lr/<group>             lr, one per optimizer parameter group (0, 1, ...)
    val/<path>                   every number of the validation scores, e.g.
                                 val/localization/max_box_acc_v2, val/localization/max_box_acc/50,
                                 val/mask/pxap, val/top1, val/score

and a test evaluation ("test (best)") becomes ``test/best/<path>`` the same way. Lists (curves,
IoU levels), text and flags are left out, and so are image counts and the curve step
(``images``, ``cam_curve_interval``): they describe the protocol, not the model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_NOT_MEASUREMENTS = frozenset({"images", "cam_curve_interval"})


def flatten_numbers(data: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """Every finite number under ``data``, keyed ``prefix/key/subkey``; bools, text, lists,
    ``None`` and the keys in ``_NOT_MEASUREMENTS`` are left out."""
    out: dict[str, float] = {}
    for key, value in data.items():
        if key in _NOT_MEASUREMENTS:
            continue
        tag = f"{prefix}/{key}"
        if isinstance(value, Mapping):
            out.update(flatten_numbers(value, tag))
        elif (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[tag] = float(value)
    return out


def epoch_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of one epoch record of ``metrics.jsonl``, named as in the module docstring."""
    out = {f"train/loss/{k}": float(v) for k, v in record.get("train_loss", {}).items()}
    for key in ("train_top1", "images_per_s", "time_s", "batch_size"):
        if record.get(key) is not None:
            out[f"train/{key.removeprefix('train_')}"] = float(record[key])
    out.update({f"train/lr/{i}": float(lr) for i, lr in enumerate(record.get("lr", []))})
    if isinstance(record.get("val"), Mapping):
        out.update(flatten_numbers(record["val"], "val"))
    return out


def eval_prefix(label: str) -> str:
    """An evaluation label as a tag prefix: ``"test (best)"`` → ``"test/best"``."""
    words = re.findall(r"[A-Za-z0-9_.-]+", label)
    return "/".join(words) or "eval"


def eval_scalars(label: str, scores: Any) -> dict[str, float]:
    """The numbers of an evaluation's scores (a ``SplitScores`` or its JSON dict)."""
    data = scores.to_json() if hasattr(scores, "to_json") else scores
    return flatten_numbers(data, eval_prefix(label))
