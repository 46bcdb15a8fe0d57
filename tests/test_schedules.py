"""Schedules: values at the endpoints and in between, outside values and errors (baselines' semantics)."""

from __future__ import annotations

import pytest

from baselines_tf2.common.schedules import (
    ConstantSchedule,
    FractionLinear,
    LinearSchedule,
    PiecewiseSchedule,
    as_fraction_schedule,
)


def test_constant_schedule_ignores_time() -> None:
    schedule = ConstantSchedule(0.3)
    assert schedule.value(0) == schedule.value(10**9) == schedule(5) == 0.3


def test_linear_schedule_anneals_then_holds() -> None:
    # baselines' DQN exploration: 1.0 -> 0.02 over the first 100 steps
    schedule = LinearSchedule(schedule_timesteps=100, final_p=0.02, initial_p=1.0)
    assert schedule.value(0) == 1.0
    assert schedule.value(50) == pytest.approx(0.51)  # halfway: 1.0 + 0.5 * (0.02 - 1.0)
    assert schedule.value(100) == pytest.approx(0.02)
    assert schedule.value(10_000) == pytest.approx(0.02)
    assert schedule(25) == schedule.value(25) == pytest.approx(0.755)


def test_linear_schedule_can_increase() -> None:
    # prioritized replay's beta: 0.4 -> 1.0
    schedule = LinearSchedule(schedule_timesteps=10, final_p=1.0, initial_p=0.4)
    assert [schedule.value(t) for t in (0, 5, 10, 20)] == pytest.approx([0.4, 0.7, 1.0, 1.0])


def test_piecewise_schedule_interpolates_between_endpoints() -> None:
    # baselines' Atari learning-rate shape
    schedule = PiecewiseSchedule([(0, 1e-4), (1000, 1e-4), (5000, 5e-5)], outside_value=5e-5)
    assert schedule.value(0) == 1e-4
    assert schedule.value(500) == 1e-4
    assert schedule.value(1000) == 1e-4
    assert schedule.value(3000) == pytest.approx(7.5e-5)  # halfway down the second piece
    assert schedule(4000) == schedule.value(4000) == pytest.approx(6.25e-5)


def test_piecewise_schedule_gives_the_outside_value_past_either_end() -> None:
    schedule = PiecewiseSchedule([(10, 1.0), (20, 3.0)], outside_value=-1.0)
    assert schedule.value(9.99) == -1.0
    assert schedule.value(25) == -1.0
    # As in baselines, pieces are half-open [t_i, t_{i+1}), so the last endpoint itself is already outside.
    assert schedule.value(20) == -1.0
    assert schedule.value(19.5) == pytest.approx(2.9)


def test_piecewise_schedule_without_outside_value_raises_outside() -> None:
    schedule = PiecewiseSchedule([(0, 0.0), (10, 1.0)])
    assert schedule.value(5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside"):
        schedule.value(-1)
    with pytest.raises(ValueError, match="outside"):
        schedule.value(11)


def test_piecewise_schedule_rejects_unsorted_endpoints() -> None:
    with pytest.raises(ValueError, match="sorted"):
        PiecewiseSchedule([(10, 1.0), (0, 0.0)])


def test_fraction_schedules() -> None:
    assert FractionLinear(2.5e-4)(1.0) == 2.5e-4
    assert FractionLinear(2.5e-4)(0.5) == pytest.approx(1.25e-4)
    assert as_fraction_schedule(3e-4, "lr")(0.1) == 3e-4
    schedule = FractionLinear(1.0)
    assert as_fraction_schedule(schedule, "lr") is schedule
    with pytest.raises(TypeError, match="lr"):
        as_fraction_schedule("fast", "lr")  # type: ignore[arg-type]
