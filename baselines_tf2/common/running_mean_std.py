"""Running mean and variance of a stream of arrays, for observation and return normalisation (NumPy only)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


class RunningMeanStd:
    """Per-element mean and (population) variance of every sample seen so far.

    Batches are merged with the parallel-variance formula of Chan, Golub & LeVeque (1979), so the result
    equals `np.mean` / `np.var` over all samples concatenated. `epsilon` is the pseudo-count of the starting
    estimate (mean 0, variance 1), which keeps the variance finite before the first update.
    """

    def __init__(self, epsilon: float = 1e-4, shape: int | tuple[int, ...] = ()) -> None:
        if not np.isfinite(epsilon) or epsilon < 0:
            raise ValueError(f"epsilon is the starting pseudo-count and must be a finite number >= 0, got {epsilon!r}")
        self.shape = as_shape(shape)
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.var = np.ones(self.shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Add a batch of samples stacked on axis 0 (shape [n, *shape]); an empty batch changes nothing."""
        samples = np.asarray(batch, dtype=np.float64)
        if samples.shape[1:] != self.shape:
            raise ValueError(
                f"batch of shape {samples.shape} does not hold samples of shape {self.shape} stacked on axis 0"
            )
        if samples.shape[0] == 0:
            return
        if samples.shape[0] == 1:  # one env, every step: a batch of variance 0, without the array temporaries
            self._add_one(samples[0])
            return
        self.update_from_moments(samples.mean(axis=0), samples.var(axis=0), samples.shape[0])

    def update_from_moments(self, batch_mean: Any, batch_var: Any, batch_count: float) -> None:
        """Add a batch given by its mean, (population) variance and sample count, as baselines' method
        (Chan et al. 1979, pairwise update)."""
        batch_mean = np.asarray(batch_mean, dtype=np.float64)
        batch_var = np.asarray(batch_var, dtype=np.float64)
        if batch_mean.shape != self.shape or batch_var.shape != self.shape:
            raise ValueError(f"batch moments of shapes {batch_mean.shape} and {batch_var.shape} do not fit "
                             f"statistics of shape {self.shape}")
        if not batch_count >= 0:
            raise ValueError(f"batch_count must be >= 0, got {batch_count!r}")
        if batch_count == 0:
            return
        self.mean, self.var, self.count = update_mean_var_count_from_moments(
            self.mean, self.var, self.count, batch_mean, batch_var, float(batch_count))

    def _add_one(self, sample: np.ndarray) -> None:
        """update_from_moments(sample, 0, 1) in fewer operations (Welford's update): mean += delta / n, and
        var = (var * count + delta^2 * count / n) / n with n = count + 1."""
        total = self.count + 1.0
        delta = sample - self.mean
        self.mean = self.mean + delta / total
        self.var = (self.var + np.square(delta) / total) * (self.count / total)
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        """The statistics as plain data: float64 arrays `mean` and `var`, and the float `count`."""
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the statistics with `state` (as from `state_dict`); raises ValueError if it does not fit."""
        missing = {"mean", "var", "count"} - set(state)
        if missing:
            raise ValueError(f"running mean/std state lacks {sorted(missing)}; it needs 'mean', 'var' and 'count'")
        mean = _finite_array(state["mean"], "mean", self.shape)
        var = _finite_array(state["var"], "var", self.shape)
        if np.any(var < 0):
            raise ValueError("running mean/std state has a negative variance")
        count = state["count"]
        if isinstance(count, bool) or not isinstance(count, (int, float, np.integer, np.floating)):
            raise ValueError(f"running mean/std count must be a number, got {type(count).__name__}")
        if not np.isfinite(count) or count < 0:
            raise ValueError(f"running mean/std count must be finite and >= 0, got {count!r}")
        self.mean, self.var, self.count = mean, var, float(count)


def as_shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    """An array shape as a tuple of ints; a bare int `n` is `(n,)`, as baselines' np.zeros(shape) took it."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(dim) for dim in shape)


def update_mean_var_count_from_moments(mean: Any, var: Any, count: float, batch_mean: Any, batch_var: Any,
                                       batch_count: float) -> tuple[Any, Any, float]:
    """Merged (mean, var, count) of two sets of samples from their moments (Chan et al. 1979), as baselines'."""
    total = count + batch_count
    delta = batch_mean - mean
    new_mean = mean + delta * batch_count / total
    new_var = (var * count + batch_var * batch_count + np.square(delta) * count * batch_count / total) / total
    return new_mean, new_var, total


def _finite_array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """`value` as a float64 array of `shape` with only finite entries, else a ValueError naming `name`."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"running mean/std {name} is not a numeric array: {err}") from None
    if array.shape != shape:
        raise ValueError(f"running mean/std {name} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"running mean/std {name} contains NaN or infinity")
    return array
