"""SubprocVecEnv: envs in worker processes, stepped in parallel; observations come back through pipes."""

from __future__ import annotations

from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any, Callable, Iterator, Sequence

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.vec_env.compat import to_gymnasium_space
from baselines_tf2.common.vec_env.util import ObsBatch, ObsBuffers
from baselines_tf2.common.vec_env.vec_env import (
    AlreadySteppingError,
    ClosedEnvError,
    NotSteppingError,
    VecEnv,
    VecEnvError,
    VecEnvWorkerError,
    check_action_count,
)
from baselines_tf2.common.vec_env.vec_env import clear_mpi_env_vars as clear_mpi_env_vars  # baselines' import path
from baselines_tf2.common.vec_env.worker_pool import WorkerPool


class SubprocVecEnv(VecEnv):
    """Runs each group of `in_series` envs in its own daemon process (baselines' signature and meaning).

    `context` is the multiprocessing start method: 'forkserver' (the default; baselines' was 'spawn') or
    'spawn'. 'fork' is refused, since forking a process running TensorFlow's threads can deadlock. `in_series`
    envs share one worker and are stepped one after another there (12 envs with in_series=3: 4 processes).
    The spaces are env 0's; `spaces`, if given, are the (observation_space, action_space) the caller expects,
    and must equal them. Workers start without MPI's launcher variables (`clear_mpi_env_vars`): not MPI ranks.

    Env factories may be lambdas or closures (they travel with cloudpickle). If a worker's env raises, or a
    worker dies, the call raises VecEnvWorkerError naming the worker and its envs, and this VecEnv is closed;
    a worker silent for `timeout` seconds (None: wait forever) raises VecEnvTimeoutError. With
    `restart_crashed`, a worker that fails during a step is replaced instead: its envs restart from a reset and
    report that step as done with reward 0 and `info['env_restarted']` (counted in `restarts`). `processes`
    are the worker processes, in env order.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gymnasium.Env]],
        spaces: tuple[gymnasium.Space, gymnasium.Space] | None = None,
        context: str = "forkserver",
        in_series: int = 1,
        *,
        timeout: float | None = None,
        restart_crashed: bool = False,
    ) -> None:
        if not env_fns:
            raise ValueError(f"{type(self).__name__} needs at least one env factory")
        self._waiting = False
        self._in_series = in_series
        self.restart_crashed = restart_crashed
        self.restarts = 0  # workers restarted after a crash or hang (restart_crashed)
        self._faults: dict[int, VecEnvWorkerError] | None = None  # workers that failed during the pending step
        self._pool = WorkerPool(env_fns, context, in_series, timeout)
        with self._closing_on_failure():
            reported = self._pool.call("get_spaces", self._to_every_worker(None))[0]
            if spaces is not None:
                _check_expected_spaces(spaces, reported)
        observation_space, action_space = reported
        super().__init__(len(env_fns), observation_space, action_space)
        with self._closing_on_failure():
            self._init_obs_transport()

    @property
    def processes(self) -> list[BaseProcess]:
        """The worker processes in env order (one per `in_series` envs), e.g. to read their pids."""
        return list(self._pool.processes)

    def reset(self) -> ObsBatch:
        self._check_idle()
        seeds = self._take_pending_seeds()
        with self._closing_on_failure():
            replies = self._pool.call(
                "reset", {worker: seeds[start : start + self._in_series] for worker, start in self._worker_starts()}
            )
            return self._obs_batch(_in_env_order(replies))

    def step_async(self, actions: np.ndarray | Sequence[Any]) -> None:
        self._check_open()
        if self._waiting:
            raise AlreadySteppingError()
        check_action_count(actions, self.num_envs)
        self._faults = {} if self.restart_crashed else None
        with self._closing_on_failure():
            self._pool.send(
                "step",
                {worker: actions[start : start + self._in_series] for worker, start in self._worker_starts()},
                self._faults,
            )
        self._waiting = True

    def step_wait(self) -> tuple[ObsBatch, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        self._check_open()
        if not self._waiting:
            raise NotSteppingError()
        with self._closing_on_failure():
            replies = self._pool.receive(self._faults)
            for worker, error in (self._faults or {}).items():
                replies[worker] = self._restart_worker(worker, error)
            results = _in_env_order(replies)
            self._waiting = False
            obs_payloads, rewards, dones, infos = zip(*results)
            return (
                self._obs_batch(list(obs_payloads)),
                np.array(rewards, dtype=np.float32),
                np.array(dones, dtype=bool),
                list(infos),
            )

    def _restart_worker(self, worker: int, error: VecEnvWorkerError) -> list[tuple[Any, float, bool, dict[str, Any]]]:
        """Replace a failed worker and reset its envs; the step results its envs report for the failed step."""
        first_line = str(error).splitlines()[0]
        logger.warn(f"restarting env worker {worker}: {first_line}")
        self._pool.restart(worker)
        self._pool.call("get_spaces", {worker: None})  # untimed: waits until the new worker has built its envs
        self._attach_worker(worker)
        seeds = [int(seed) for seed in np.random.default_rng().integers(2**31 - 1, size=self._in_series)]
        observations = self._pool.call("reset", {worker: seeds})[worker]
        self.restarts += 1
        info = {"env_restarted": True, "env_error": first_line}
        return [(obs, 0.0, True, dict(info)) for obs in observations]

    def _attach_worker(self, worker: int) -> None:
        """Connect a restarted worker to the observation transport (nothing to do for pipes)."""

    def get_images(self) -> list[np.ndarray]:
        self._check_idle()
        with self._closing_on_failure():
            return _in_env_order(self._pool.call("render", self._to_every_worker(None)))

    def env_method(
        self, method_name: str, *method_args: Any, indices: Sequence[int] | None = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call `method_name` (found through the env's wrappers) on the envs at `indices` (default all)."""
        return self._ask_envs("env_method", lambda local: (method_name, method_args, method_kwargs, local), indices)

    def get_attr(self, attr_name: str, indices: Sequence[int] | None = None) -> list[Any]:
        """Attribute `attr_name` (found through the env's wrappers) of the envs at `indices` (default all)."""
        return self._ask_envs("get_attr", lambda local: (attr_name, local), indices)

    def set_attr(self, attr_name: str, value: Any, indices: Sequence[int] | None = None) -> None:
        """Set `attr_name` on the envs at `indices` (default all): on the wrapper defining it, else the outermost."""
        self._ask_envs("set_attr", lambda local: (attr_name, value, local), indices)

    def close_extras(self) -> None:
        self._waiting = False
        pool = getattr(self, "_pool", None)  # absent if the constructor failed before starting workers
        if pool is not None:
            pool.close()

    def _init_obs_transport(self) -> None:
        """Prepare where observations are gathered; here, a batch buffer filled from the pipes."""
        self._obs_buffers = ObsBuffers(self.observation_space, self.num_envs)

    def _obs_batch(self, obs_payloads: list[Any]) -> ObsBatch:
        """The batch of observations, from what each env sent back (here, the observation itself)."""
        for index, obs in enumerate(obs_payloads):
            self._obs_buffers.write(index, obs)
        return self._obs_buffers.copy()

    def _ask_envs(self, command: str, request: Callable[[list[int]], Any], indices: Sequence[int] | None) -> list[Any]:
        """Send `request(local indices)` to the workers holding `indices`; results in the order of `indices`."""
        self._check_idle()
        wanted = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        for index in wanted:
            if not 0 <= index < self.num_envs:
                raise IndexError(f"env index {index} out of range for {self.num_envs} envs")
        per_worker: dict[int, list[int]] = {}
        for index in wanted:
            worker, local = divmod(index, self._in_series)
            per_worker.setdefault(worker, []).append(local)
        with self._closing_on_failure():
            replies = self._pool.call(command, {worker: request(local) for worker, local in per_worker.items()})
        by_env = {
            self._pool.env_indices[worker][local]: result
            for worker, local_indices in per_worker.items()
            for local, result in zip(local_indices, replies[worker])
        }
        return [by_env[index] for index in wanted]

    def _worker_starts(self) -> Iterator[tuple[int, int]]:
        """(worker index, index of its first env) for every worker."""
        return ((worker, indices[0]) for worker, indices in enumerate(self._pool.env_indices))

    def _to_every_worker(self, data: Any) -> dict[int, Any]:
        return {worker: data for worker in range(len(self._pool.env_indices))}

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedEnvError()

    def _check_idle(self) -> None:
        self._check_open()
        if self._waiting:
            raise VecEnvError("a step_async() is pending; call step_wait() before anything else")

    @contextmanager
    def _closing_on_failure(self) -> Iterator[None]:
        """Any failure while talking to the workers (a fault, Ctrl-C) leaves the pipes out of step: close."""
        try:
            yield
        except BaseException:
            self.close()
            raise


def _check_expected_spaces(
    expected: tuple[gymnasium.Space, gymnasium.Space], reported: tuple[gymnasium.Space, gymnasium.Space]
) -> None:
    """Raise ValueError unless the caller's `spaces=` are env 0's (gym spaces are compared as gymnasium's)."""
    if len(expected) != 2:
        raise ValueError(f"spaces must be (observation_space, action_space), got {expected!r}")
    for name, given, actual in zip(("observation", "action"), expected, reported):
        if to_gymnasium_space(given) != actual:
            raise ValueError(
                f"spaces= gives the {name} space {given}, but env 0 has {actual}; pass spaces=None "
                "(the workers report the spaces) or make the envs match"
            )


def _in_env_order(replies: dict[int, list[Any]]) -> list[Any]:
    """Per-worker result lists, flattened into one list in env order."""
    return [result for worker in sorted(replies) for result in replies[worker]]
