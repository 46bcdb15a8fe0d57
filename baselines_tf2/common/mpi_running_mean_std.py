"""baselines' `common.mpi_running_mean_std`: running mean and std of a stream whose batches every MPI rank
contributes to (NumPy; baselines kept the sums in TF1 variables).

This is the filter baselines' ppo1 and trpo_mpi MLP policies put in front of observations; unlike
`common.running_mean_std`, it keeps sums (not moments) and floors the variance at 1e-2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from baselines_tf2.common.mpi_util import World, world
from baselines_tf2.common.running_mean_std import as_shape

VARIANCE_FLOOR = 1e-2  # baselines': std is never below 0.1, so rarely-moving features are not blown up


class RunningMeanStd:
    """Sums of the samples, their squares and their count over every rank; `mean` and `std` follow from them.

    `epsilon` is the starting count and the starting sum of squares, so before any update mean is 0 and std 1."""

    def __init__(self, epsilon: float = 1e-2, shape: int | tuple[int, ...] = (), comm: Any = None) -> None:
        if not np.isfinite(epsilon) or epsilon < 0:
            raise ValueError(f"epsilon is the starting count and must be a finite number >= 0, got {epsilon!r}")
        self.shape = as_shape(shape)
        self._sum = np.zeros(self.shape, np.float64)
        self._sumsq = np.full(self.shape, float(epsilon), np.float64)
        self._count = float(epsilon)
        self._world = world() if comm is None else World(comm)

    @property
    def mean(self) -> np.ndarray:
        """The mean of every sample seen on every rank (float32, as baselines' graph gave it)."""
        return (self._sum / self._count).astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        """The standard deviation, from the sums, floored at sqrt(1e-2) (float32)."""
        mean = self._sum / self._count
        variance = self._sumsq / self._count - np.square(mean)
        return np.sqrt(np.maximum(variance, VARIANCE_FLOOR)).astype(np.float32)

    def update(self, data: npt.ArrayLike) -> None:
        """Add this rank's batch (samples stacked on axis 0); every rank must call it, since the sums are reduced."""
        batch = np.asarray(data, np.float64)
        if batch.shape[1:] != self.shape:
            raise ValueError(f"batch of shape {batch.shape} does not hold samples of shape {self.shape} on axis 0")
        size = int(np.prod(self.shape))
        local = np.concatenate([batch.sum(axis=0).ravel(), np.square(batch).sum(axis=0).ravel(), [len(batch)]])
        total = self._world.sum(local)  # one Allreduce for the three sums
        self._sum += total[:size].reshape(self.shape)
        self._sumsq += total[size:2 * size].reshape(self.shape)
        self._count += float(total[-1])
