"""Schedules of a value over training progress, as small frozen dataclasses (they print, compare and go into JSON).

Two conventions meet here, both baselines': DQN's schedules take the step number `t` (`value(t)`), PPO2/A2C's
learning-rate and clip-range callables take the fraction of training remaining (1 -> 0).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Sequence, Union


class Schedule(ABC):
    """baselines' base class of the step schedules: `value(t)` is the value at step `t`."""

    @abstractmethod
    def value(self, t: float) -> float:
        """The schedule's value at step `t`."""


@dataclass(frozen=True, init=False)
class ConstantSchedule(Schedule):
    """Always `value` (baselines' parameter name), kept as the field `constant` since `value(t)` is the method."""

    constant: float

    def __init__(self, value: float) -> None:
        object.__setattr__(self, "constant", value)

    def value(self, t: float) -> float:
        """The schedule's value at step `t` (baselines' Schedule API)."""
        return self.constant

    def __call__(self, t: float) -> float:
        return self.constant


@dataclass(frozen=True)
class LinearSchedule(Schedule):
    """From `initial_p` to `final_p` over `schedule_timesteps` steps, then constant (baselines' DQN exploration)."""

    schedule_timesteps: int
    final_p: float
    initial_p: float = 1.0

    def value(self, t: float) -> float:
        """The schedule's value at step `t` (baselines' Schedule API)."""
        fraction = min(float(t) / self.schedule_timesteps, 1.0)
        return self.initial_p + fraction * (self.final_p - self.initial_p)

    def __call__(self, t: float) -> float:
        return self.value(t)


def linear_interpolation(l: float, r: float, alpha: float) -> float:  # noqa: E741 - baselines' parameter names
    """`l + alpha * (r - l)`: the value a fraction `alpha` of the way from `l` to `r` (baselines' helper)."""
    return l + alpha * (r - l)


@dataclass(frozen=True)
class PiecewiseSchedule(Schedule):
    """`interpolation(left_value, right_value, alpha)` between `(t, value)` endpoints (linear by default), and
    `outside_value` past either end (None: error)."""

    endpoints: Sequence[tuple[float, float]]
    interpolation: Callable[[float, float, float], float] = linear_interpolation
    outside_value: float | None = None

    def __post_init__(self) -> None:
        times = [t for t, _ in self.endpoints]
        if times != sorted(times):
            raise ValueError(f"PiecewiseSchedule endpoints must be sorted by time, got {list(self.endpoints)}")

    def value(self, t: float) -> float:
        """The schedule's value at step `t` (baselines' Schedule API)."""
        for (left_t, left_v), (right_t, right_v) in zip(self.endpoints[:-1], self.endpoints[1:]):
            if left_t <= t < right_t:
                alpha = (t - left_t) / (right_t - left_t)
                return self.interpolation(left_v, right_v, alpha)
        if self.outside_value is None:
            raise ValueError(f"t={t} lies outside the schedule's endpoints {list(self.endpoints)}")
        return self.outside_value

    def __call__(self, t: float) -> float:
        return self.value(t)


@dataclass(frozen=True)
class FractionLinear:
    """`start * frac_remaining`: baselines' Atari `lambda f: f * 2.5e-4`, as data."""

    start: float

    def __call__(self, frac_remaining: float) -> float:
        return self.start * frac_remaining


FractionSchedule = Union[float, Callable[[float], float]]


def as_fraction_schedule(value: FractionSchedule, name: str) -> Callable[[float], float]:
    """A float becomes a constant; a callable of the fraction remaining is kept. Anything else is an error."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ConstantSchedule(float(value))
    if callable(value):
        return value
    raise TypeError(f"{name} must be a number or a callable of the fraction of training remaining, got {value!r}")
