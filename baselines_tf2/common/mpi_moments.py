"""baselines' `common.mpi_moments`: means and standard deviations over the samples of every MPI rank (NumPy only).

With one process (no MPI launcher) they are plain NumPy moments. `comm` is an mpi4py communicator; None means this
process's world (`mpi_util.world()`: COMM_WORLD under mpiexec).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from baselines_tf2.common.mpi_util import World, world


def _ranks(comm: Any) -> World:
    return world() if comm is None else World(comm)


def mpi_mean(x: npt.ArrayLike, axis: int = 0, comm: Any = None, keepdims: bool = False) -> tuple[np.ndarray, float]:
    """The mean of `x` along `axis` over every rank's samples, and the number of samples summed over ranks."""
    samples = np.asarray(x)
    if samples.ndim == 0:
        raise ValueError("mpi_mean needs an array with at least one axis to average over, got a scalar")
    local_sum = np.asarray(samples.sum(axis=axis, keepdims=keepdims), np.float64)
    # the sums and the count travel in one Allreduce
    totals = _ranks(comm).sum(np.append(local_sum.ravel(), float(samples.shape[axis])))
    count = float(totals[-1])
    return (totals[:-1] / count).reshape(local_sum.shape), count


def mpi_moments(
    x: npt.ArrayLike, axis: int = 0, comm: Any = None, keepdims: bool = False
) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, population standard deviation, count) of `x` along `axis` over every rank's samples.

    Two passes as in baselines: the global mean first, then the mean squared deviation from it, which stays
    accurate where sum-of-squares formulas lose precision."""
    samples = np.asarray(x, np.float64)
    mean, count = mpi_mean(samples, axis=axis, comm=comm, keepdims=True)
    mean_square_deviation, _ = mpi_mean(np.square(samples - mean), axis=axis, comm=comm, keepdims=True)
    std = np.sqrt(mean_square_deviation)
    if not keepdims:
        mean, std = np.squeeze(mean, axis=axis), np.squeeze(std, axis=axis)
    return mean, std, count
