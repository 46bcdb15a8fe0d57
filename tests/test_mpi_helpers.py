"""baselines' MPI helper modules at their paths (`common.mpi_moments`, `common.mpi_running_mean_std`,
`common.mpi_adam`, `common.mpi_util`'s functions): on one process against NumPy, and on two ranks against the
numbers of both ranks' data pooled.

The two-rank case is this file run under `mpiexec -n 2 python tests/test_mpi_helpers.py FOLDER`; it imports no
TensorFlow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_mpi import MPIEXEC, requires_mpi

from baselines_tf2.common.mpi_adam import MpiAdam
from baselines_tf2.common.mpi_moments import mpi_mean, mpi_moments
from baselines_tf2.common.mpi_running_mean_std import RunningMeanStd
from baselines_tf2.common.mpi_util import (
    dict_gather,
    get_local_rank_size,
    mpi_weighted_mean,
    share_file,
    sync_from_root,
)

# each rank's data: different batch sizes, so a mean of per-rank means would be wrong
RANK_BATCHES = [[(3, 2), (4, 2), (5, 2)], [(6, 2), (7, 2), (8, 2)]]
ADAM_STEPS = 12


class ArrayVariable:
    """The variable interface MpiAdam needs (`numpy`, `assign`), without TensorFlow."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = np.array(value, np.float32)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value: np.ndarray) -> None:
        self.value = np.array(value, np.float32)


def rank_data(rank: int) -> list[np.ndarray]:
    rng = np.random.default_rng(rank)
    return [rng.normal(loc=2.0, scale=3.0, size=shape) for shape in RANK_BATCHES[rank]]


def rank_gradients(rank: int) -> list[np.ndarray]:
    return [np.random.default_rng(100 + rank).normal(size=7).astype(np.float32) for _ in range(ADAM_STEPS)]


def reference_adam(gradients: list[np.ndarray], stepsize: float) -> np.ndarray:
    """Adam from zeros with bias-corrected moments and epsilon scaled by sqrt(1 - beta2^t), the folded form of
    baselines (and TF1) written out the long way."""
    theta, m, v = np.zeros(7), np.zeros(7), np.zeros(7)
    for t, gradient in enumerate(gradients, start=1):
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient ** 2
        theta -= stepsize * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8 / np.sqrt(1 - 0.999 ** t))
    return theta


def test_moments_on_one_process_are_numpy_moments() -> None:
    x = np.random.default_rng(0).normal(size=(50, 3, 2))
    mean, std, count = mpi_moments(x)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=0), rtol=1e-12)
    assert count == 50 and mean.shape == (3, 2)
    mean, std, count = mpi_moments(x, axis=1, keepdims=True)
    assert mean.shape == (50, 1, 2) and count == 3
    np.testing.assert_allclose(std, x.std(axis=1, keepdims=True), rtol=1e-12)
    mean, count = mpi_mean(x, axis=2)
    np.testing.assert_allclose(mean, x.mean(axis=2), rtol=1e-12)
    with pytest.raises(ValueError, match="at least one axis"):
        mpi_mean(np.float64(3.0))


def test_mpi_util_functions_on_one_process_change_nothing() -> None:
    variables = [ArrayVariable(np.arange(3.0))]
    sync_from_root(None, variables)
    np.testing.assert_array_equal(variables[0].numpy(), [0.0, 1.0, 2.0])
    assert dict_gather(None, {"x": 1.0}) == {"x": 1.0}
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        dict_gather(None, {"x": 1.0}, op="max")


def test_running_mean_std_starts_at_zero_and_one_and_tracks_the_pooled_moments() -> None:
    stats = RunningMeanStd(shape=(2,))
    np.testing.assert_allclose(stats.mean, [0.0, 0.0])
    np.testing.assert_allclose(stats.std, [1.0, 1.0])
    stats = RunningMeanStd(epsilon=0.0, shape=(2,))
    batches = rank_data(0)
    for batch in batches:
        stats.update(batch)
    pooled = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, pooled.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, pooled.std(axis=0), rtol=1e-5)
    constant = RunningMeanStd(epsilon=0.0, shape=())
    constant.update(np.full(10, 4.0))
    assert constant.std == pytest.approx(0.1)  # the variance floor of 1e-2
    with pytest.raises(ValueError, match="samples of shape"):
        stats.update(np.zeros((3, 5)))


def test_mpi_adam_takes_adam_steps_on_the_variables() -> None:
    variables = [ArrayVariable(np.zeros(3)), ArrayVariable(np.zeros((2, 2)))]
    adam = MpiAdam(variables)
    gradients = rank_gradients(0)
    for gradient in gradients:
        adam.update(gradient, 1e-2)
    np.testing.assert_allclose(adam.getflat(), reference_adam(gradients, 1e-2), rtol=1e-5, atol=1e-7)
    assert variables[1].numpy().shape == (2, 2)
    with pytest.raises(ValueError, match="flat gradient has shape"):
        adam.update(np.zeros(3), 1e-2)


@requires_mpi
def test_on_two_ranks_the_helpers_see_every_ranks_data(tmp_path: Path) -> None:
    result = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, __file__, str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.count("rank ok") == 2, result.stdout


def two_rank_case() -> None:
    """Run on each of 2 ranks: compare every helper with the numbers of both ranks' data pooled."""
    from baselines_tf2.common.mpi_util import world

    rank = world().rank
    assert world().size == 2
    mine = rank_data(rank)
    pooled = np.concatenate(rank_data(0) + rank_data(1))
    mean, std, count = mpi_moments(np.concatenate(mine))
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, pooled.std(axis=0), rtol=1e-12)
    assert count == len(pooled)
    stats = RunningMeanStd(epsilon=0.0, shape=(2,))
    for batch in mine:
        stats.update(batch)
    np.testing.assert_allclose(stats.mean, pooled.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, pooled.std(axis=0), rtol=1e-5)
    variables: list[Any] = [ArrayVariable(np.zeros(3)), ArrayVariable(np.zeros((2, 2)))]
    adam = MpiAdam(variables)
    for gradient in rank_gradients(rank):
        adam.update(gradient, 1e-2)
    averaged = [(a + b) / 2 for a, b in zip(rank_gradients(0), rank_gradients(1))]
    np.testing.assert_allclose(adam.getflat(), reference_adam(averaged, 1e-2), rtol=1e-5, atol=1e-7)
    adam.check_synced()

    comm = world().comm
    own = [ArrayVariable(np.full(3, float(rank)))]
    sync_from_root(None, own)
    np.testing.assert_array_equal(own[0].numpy(), np.zeros(3))
    gathered = dict_gather(comm, {"x": float(rank + 1), "v": np.array([rank, 2.0 * rank])})
    assert gathered["x"] == 1.5 and np.array_equal(gathered["v"], [0.5, 1.0])
    assert dict_gather(comm, {"x": 1.0}, op="sum")["x"] == 2.0
    weighted = mpi_weighted_mean(comm, {"r": (10.0 * rank, 1 + 2 * rank), "name": ("text", 1)})
    assert weighted == ({"r": 7.5} if rank == 0 else {})  # (0 * 1 + 10 * 3) / 4, the non-number left out
    assert get_local_rank_size(comm) == (rank, 2)  # both ranks on this machine
    shared = Path(sys.argv[1]) / "shared.bin"
    if rank == 0:
        shared.write_bytes(b"from rank 0")
    share_file(comm, str(shared))
    assert shared.read_bytes() == b"from rank 0"
    print("rank ok", flush=True)


if __name__ == "__main__":
    two_rank_case()
