"""baselines' `common.mpi_adam.MpiAdam`: Adam on a flat gradient averaged over MPI ranks, applied to a list of
variables (NumPy arithmetic; the variables are anything with `.numpy()` and `.assign()`, e.g. Keras variables).

baselines' ddpg, ppo1 and trpo_mpi trained with it; our algorithms average gradients inside their compiled updates,
and this class is kept for code that drives its own updates the baselines way.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from baselines_tf2.common.mpi_util import World, world

SYNC_CHECK_EVERY = 100  # updates between checks that every rank holds rank 0's weights, as baselines


class MpiAdam:
    """Adam (Kingma & Ba 2015, with the bias correction folded into the step size) on `var_list` as one flat vector."""

    def __init__(self, var_list: Sequence[Any], *, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-08,
                 scale_grad_by_procs: bool = True, comm: Any = None) -> None:
        self.var_list = list(var_list)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.scale_grad_by_procs = scale_grad_by_procs
        self.shapes = [tuple(np.shape(variable.numpy())) for variable in self.var_list]
        size = sum(int(np.prod(shape)) for shape in self.shapes)
        self.m: np.ndarray = np.zeros(size, np.float32)
        self.v: np.ndarray = np.zeros(size, np.float32)
        self.t = 0
        self.world = world() if comm is None else World(comm)

    def getflat(self) -> np.ndarray:
        """The variables' values concatenated into one float32 vector."""
        return np.concatenate([np.ravel(variable.numpy()) for variable in self.var_list]).astype(np.float32)

    def setfromflat(self, theta: npt.ArrayLike) -> None:
        """Assign the variables from one flat vector laid out as `getflat` returns it."""
        flat = np.asarray(theta, np.float32)
        offset = 0
        for variable, shape in zip(self.var_list, self.shapes):
            size = int(np.prod(shape))
            variable.assign(flat[offset:offset + size].reshape(shape))
            offset += size

    def update(self, localg: npt.ArrayLike, stepsize: float) -> None:
        """One Adam step of size `stepsize` along this rank's flat gradient `localg`, summed over the ranks and
        divided by their number when `scale_grad_by_procs`; every rank must call it."""
        if self.t % SYNC_CHECK_EVERY == 0:
            self.check_synced()
        local = np.asarray(localg, np.float32)
        if local.shape != self.m.shape:
            raise ValueError(f"the flat gradient has shape {local.shape}; these variables need {self.m.shape}")
        gradient: np.ndarray = self.world.sum(local)
        if self.scale_grad_by_procs:
            gradient = gradient / np.float32(self.world.size)
        self.t += 1
        step_size = stepsize * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        self.m = self.beta1 * self.m + (1 - self.beta1) * gradient
        self.v = self.beta2 * self.v + (1 - self.beta2) * np.square(gradient)
        self.setfromflat(self.getflat() - step_size * self.m / (np.sqrt(self.v) + self.epsilon))

    def sync(self) -> None:
        """Give every rank rank 0's variables."""
        self.setfromflat(self.world.broadcast([self.getflat()])[0])

    def check_synced(self) -> None:
        """Raise if any rank's variables differ from rank 0's (nothing to check on one rank)."""
        if self.world.size == 1:
            return
        local = self.getflat()
        root = self.world.broadcast([local])[0]
        if not np.array_equal(root, local):
            raise RuntimeError(f"rank {self.world.rank}'s variables differ from rank 0's; call sync() after building")
