"""Learning-rate schedules of the published recipes (SPEC.md §3) and the synthetic one.

All schedules are expressed as a multiplier of each group's base rate, as a
function of the 0-indexed epoch and the step within it, so that a resumed run
recomputes the exact rate from the position alone (no scheduler state to drift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wsolkit.settings.models import OptimSettings


@dataclass(frozen=True)
class Schedule:
    """``factor(epoch, step)``: multiplier of the base learning rate.

    ``steps_per_epoch[e]`` is the number of optimizer steps of epoch ``e``
    (it changes when the warm-up batch size ends).
    """

    optim: OptimSettings
    steps_per_epoch: tuple[int, ...]

    def lrs(self, base_lrs: list[float], epoch: int, step: int = 0) -> list[float]:
        """Each group's rate at 0-indexed ``epoch`` and ``step``.

        ``cosine`` and ``step`` follow timm's per-epoch schedulers (``t_in_epochs``): a
        linear warm-up from ``lr_warmup_init`` to each group's base rate over
        ``lr_warmup_epochs`` (epoch ``t`` at ``init + t·(base − init)/warmup``), then
        ``min_lr + (base − min_lr)·(1 + cos(π·t/epochs))/2`` with ``t`` counted from the
        first epoch (warm-up included), or ``base · rate^((t − warmup) // freq)`` counted
        from the end of the warm-up — the defaults of timm's ``CosineLRScheduler``
        (``warmup_prefix=False``) and ``StepLRScheduler`` (``warmup_prefix=True``), whose
        rates these equal. Epoch ``t`` trains at the value for ``t``. The other schedules
        multiply every base rate by :meth:`factor`.
        """
        o = self.optim
        if o.lr_schedule not in ("cosine", "step"):
            factor = self.factor(epoch, step)
            return [base * factor for base in base_lrs]
        if epoch < o.lr_warmup_epochs:
            frac = epoch / o.lr_warmup_epochs
            return [o.lr_warmup_init + frac * (base - o.lr_warmup_init) for base in base_lrs]
        if o.lr_schedule == "step":
            decay = o.lr_decay_rate ** ((epoch - o.lr_warmup_epochs) // o.lr_decay_frequency)
            return [base * decay for base in base_lrs]
        cos = (1 + math.cos(math.pi * min(epoch / o.epochs, 1.0))) / 2
        return [o.min_lr + (base - o.min_lr) * cos for base in base_lrs]

    def factor(self, epoch: int, step: int = 0) -> float:
        """Multiplier at 0-indexed ``epoch`` and 0-indexed ``step`` within it (the
        multiplicative schedules: points, frequency, onecycle)."""
        o = self.optim
        if o.lr_schedule in ("cosine", "step"):
            raise ValueError(f"lr_schedule {o.lr_schedule!r} sets rates per group: use lrs()")
        if o.lr_schedule == "points":
            # Decay at the start of each 1-indexed epoch listed (41, 61: epochs 1–40 at base rate).
            passed = sum(1 for p in o.lr_decay_points if epoch + 1 >= p)
            return o.lr_decay_rate**passed
        if o.lr_schedule == "frequency":
            # Decay at the start of every 1-indexed epoch that is a multiple of the frequency
            # (30, 60, …), as wsolevaluation's adjust_learning_rate(epoch + 1) does.
            return o.lr_decay_rate ** ((epoch + 1) // o.lr_decay_frequency)
        return self._onecycle(sum(self.steps_per_epoch[:epoch]) + step)

    @property
    def first_decay_epoch(self) -> int | None:
        """The 1-indexed epoch at whose start the rate first decays (None: onecycle)."""
        o = self.optim
        if o.lr_schedule == "points":
            return min(o.lr_decay_points, default=None)
        if o.lr_schedule == "frequency":
            return o.lr_decay_frequency
        if o.lr_schedule == "step":
            return o.lr_warmup_epochs + o.lr_decay_frequency + 1
        return None

    def _onecycle(self, t: int) -> float:
        """One-cycle: cosine rise from 1/25 to 1 over the warm-up share, cosine fall to ~0."""
        total = max(sum(self.steps_per_epoch), 1)
        warm = max(int(self.optim.onecycle_warmup * total), 1)
        start, end = 1 / 25.0, 1 / 25.0 / 1e4
        if t < warm:
            return _cos_interp(start, 1.0, t / warm)
        return _cos_interp(1.0, end, min((t - warm) / max(total - warm, 1), 1.0))

    @property
    def per_step(self) -> bool:
        """Whether the rate changes within an epoch."""
        return self.optim.lr_schedule == "onecycle"


def _cos_interp(a: float, b: float, frac: float) -> float:
    return b + (a - b) * (1 + math.cos(math.pi * frac)) / 2


def apply_lr(optimizer: object, lrs: list[float]) -> list[float]:
    """Set each parameter group's rate (``Schedule.lrs``); returns them."""
    for group, lr in zip(optimizer.param_groups, lrs, strict=True):  # type: ignore[attr-defined]
        group["lr"] = lr
    return lrs
