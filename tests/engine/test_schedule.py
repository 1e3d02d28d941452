from __future__ import annotations

import math

import pytest

from wsolkit.engine.schedule import Schedule
from wsolkit.settings.models import OptimSettings


def test_points_decay_at_the_start_of_listed_epochs() -> None:
    s = Schedule(OptimSettings(lr_decay_points=[41, 61], lr_decay_rate=0.2), (10,) * 70)
    factors = [s.factor(e) for e in range(70)]  # 0-indexed epochs
    assert factors[:40] == [1.0] * 40  # epochs 1–40 at the base rate
    assert factors[40] == pytest.approx(0.2) and factors[59] == pytest.approx(0.2)
    assert factors[60] == pytest.approx(0.04) and factors[69] == pytest.approx(0.04)
    assert not s.per_step


def test_frequency_decay_starts_at_the_epoch_that_is_a_multiple() -> None:
    """wsolevaluation: adjust_learning_rate(epoch + 1) multiplies by 0.1 when the 1-indexed
    epoch is a multiple of the frequency, before that epoch trains (with 3: epochs 3, 6, 9)."""
    s = Schedule(
        OptimSettings(lr_schedule="frequency", lr_decay_frequency=3, lr_decay_rate=0.1), (1,) * 9
    )
    factors = [round(s.factor(e), 6) for e in range(9)]  # 0-indexed epochs 0..8 = epochs 1..9
    assert factors == [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    assert s.first_decay_epoch == 3


def test_the_first_decay_epoch_of_each_schedule() -> None:
    points = Schedule(OptimSettings(lr_decay_points=[61, 41]), (1,) * 70)
    assert points.first_decay_epoch == 41
    assert Schedule(OptimSettings(lr_schedule="onecycle"), (1,) * 3).first_decay_epoch is None


def test_onecycle_rises_to_peak_then_falls() -> None:
    steps = (5, 5, 10, 10)  # warm-up batch size: fewer, then more steps per epoch
    s = Schedule(OptimSettings(lr_schedule="onecycle", onecycle_warmup=0.15), steps)
    flat = [s.factor(e, k) for e, n in enumerate(steps) for k in range(n)]
    peak = flat.index(max(flat))
    assert peak == int(0.15 * 30)
    assert flat[0] == pytest.approx(1 / 25)
    assert max(flat) == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(flat[:peak], flat[1 : peak + 1], strict=True))
    assert all(a >= b for a, b in zip(flat[peak:-1], flat[peak + 1 :], strict=True))
    assert flat[-1] < 0.01
    assert s.per_step


def test_cosine_warms_up_linearly_then_follows_the_cosine_to_min_lr() -> None:
    """timm's CosineLRScheduler(t_initial=10, lr_min=1e-5, warmup_t=2, warmup_lr_init=1e-6,
    t_in_epochs=True) gives these rates for the two groups (1e-3, 1e-2) at epochs 0–11."""
    o = OptimSettings(
        epochs=10, lr_schedule="cosine", lr_warmup_epochs=2, lr_warmup_init=1e-6, min_lr=1e-5
    )
    s = Schedule(o, (1,) * 10)
    rates = [s.lrs([1e-3, 1e-2], e) for e in range(12)]
    assert rates[0] == [1e-6, 1e-6]
    assert rates[1] == pytest.approx([1e-6 + 0.5 * (1e-3 - 1e-6), 1e-6 + 0.5 * (1e-2 - 1e-6)])
    for e in range(2, 12):  # t counts from the first epoch, warm-up included
        cos = (1 + math.cos(math.pi * min(e / 10, 1))) / 2
        assert rates[e] == pytest.approx([1e-5 + (b - 1e-5) * cos for b in (1e-3, 1e-2)])
    assert rates[2] == pytest.approx([0.000905463412215599, 0.009046039886902862])  # timm's
    assert rates[10] == rates[11] == pytest.approx([1e-5, 1e-5])
    assert s.first_decay_epoch is None and not s.per_step
    with pytest.raises(ValueError, match="use lrs"):
        s.factor(0)


def test_step_counts_its_decays_from_the_end_of_the_warm_up() -> None:
    """timm's StepLRScheduler(decay_t=3, decay_rate=0.1, warmup_t=2, warmup_lr_init=1e-6)."""
    o = OptimSettings(
        epochs=9, lr_schedule="step", lr_decay_frequency=3, lr_decay_rate=0.1,
        lr_warmup_epochs=2, lr_warmup_init=1e-6,
    )  # fmt: skip
    s = Schedule(o, (1,) * 9)
    rates = [s.lrs([1e-3], e)[0] for e in range(9)]
    expected = [1e-6, 1e-6 + 0.5 * (1e-3 - 1e-6), 1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5]
    assert rates == pytest.approx(expected)
    assert s.first_decay_epoch == 6  # 1-indexed: the sixth epoch trains at 1e-4


def test_the_multiplicative_schedules_scale_every_group_alike() -> None:
    s = Schedule(OptimSettings(lr_decay_points=[2], lr_decay_rate=0.5), (1,) * 3)
    assert s.lrs([1.0, 10.0], 0) == [1.0, 10.0] and s.lrs([1.0, 10.0], 1) == [0.5, 5.0]
