from __future__ import annotations

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
