"""The VecEnv interface: a batch of environments stepped together, with automatic reset (baselines' contract).

`step` returns `(obs, rewards, dones, infos)`. `dones[i]` is `terminated or truncated`; when it is set the
observation in `obs[i]` is already the first one of the next episode, and `infos[i]` carries the last one of
the finished episode as `terminal_observation` plus `TimeLimit.truncated` (True when the episode was cut by a
time limit rather than ended by the game), so learners can bootstrap correctly.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from abc import ABC, abstractmethod
from typing import Any, Iterator, Literal, Sequence, overload

import cloudpickle
import gymnasium
import numpy as np

from baselines_tf2.common.tile_images import tile_images
from baselines_tf2.common.vec_env.image_viewer import SimpleImageViewer

TERMINAL_OBSERVATION = "terminal_observation"
TRUNCATED = "TimeLimit.truncated"
RENDER_MODES = ("human", "rgb_array")  # baselines' VecEnv modes; 'human' is its default
# Variables by which Open MPI (OMPI_, and PMIX_ since 5.0) and MPICH/Hydra (PMI_) tell a process it is a rank.
MPI_ENV_PREFIXES = ("OMPI_", "PMI_", "PMIX_")


class VecEnvError(RuntimeError):
    """Base error of the VecEnv family."""


class AlreadySteppingError(VecEnvError):
    """`step_async` was called while an earlier `step_async` was still waiting for `step_wait`."""

    def __init__(self) -> None:
        super().__init__("step_async() called twice without step_wait() in between")


class NotSteppingError(VecEnvError):
    """`step_wait` was called without a pending `step_async`."""

    def __init__(self) -> None:
        super().__init__("step_wait() called without a pending step_async()")


class ClosedEnvError(VecEnvError):
    """The VecEnv was used after `close()`."""

    def __init__(self) -> None:
        super().__init__("this VecEnv is closed; create a new one")


class VecEnvWorkerError(VecEnvError):
    """A worker process failed (its env raised, or the process died); the VecEnv that owned it is now closed."""

    def __init__(
        self, message: str, worker_index: int, env_indices: Sequence[int], worker_traceback: str | None = None
    ) -> None:
        super().__init__(message)
        self.worker_index = worker_index
        self.env_indices = tuple(env_indices)
        self.worker_traceback = worker_traceback


class VecEnvTimeoutError(VecEnvWorkerError):
    """A worker did not answer within the VecEnv's timeout (a hung env); the VecEnv that owned it is now closed."""


class VecEnv(ABC):
    """A batch of `num_envs` environments sharing observation and action spaces."""

    closed = False
    viewer: SimpleImageViewer | None = None  # the window render(mode='human') draws into, opened on first use
    metadata: dict[str, Any] = {"render_modes": list(RENDER_MODES)}
    recipe: dict[str, Any] | None = None  # how cmd_util.make_vec_env built it, so checkpoints can rebuild the env

    def __init__(self, num_envs: int, observation_space: gymnasium.Space, action_space: gymnasium.Space) -> None:
        self.num_envs = num_envs
        self.observation_space = observation_space
        self.action_space = action_space
        self._pending_seeds: list[int | None] = [None] * num_envs

    @abstractmethod
    def reset(self) -> Any:
        """Reset every env and return the batch of first observations (pending seeds are applied here)."""

    @abstractmethod
    def step_async(self, actions: np.ndarray | Sequence[Any]) -> None:
        """Start stepping every env with its action; collect the result with `step_wait`."""

    @abstractmethod
    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Wait for the step started by `step_async`: `(obs, rewards, dones, infos)`."""

    def close_extras(self) -> None:
        """Release what the subclass holds (processes, shared memory); called once by `close`."""

    def close(self) -> None:
        """Close the envs; safe to call more than once."""
        if self.closed:
            return
        self._close_viewer()
        self.close_extras()
        self.closed = True

    def step(self, actions: np.ndarray | Sequence[Any]) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every env synchronously."""
        self.step_async(actions)
        return self.step_wait()

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed env i with `seed + i` at the next `reset()` (gymnasium seeds through reset); returns the seeds."""
        if seed is None:
            self._pending_seeds = [None] * self.num_envs
        else:
            self._pending_seeds = [seed + i for i in range(self.num_envs)]
        return list(self._pending_seeds)

    def _take_pending_seeds(self) -> list[int | None]:
        """The seeds for this reset; later resets are unseeded so episodes differ."""
        seeds, self._pending_seeds = self._pending_seeds, [None] * self.num_envs
        return seeds

    def get_images(self) -> list[np.ndarray]:
        """An RGB frame per env (the env must have been made with `render_mode='rgb_array'`)."""
        raise NotImplementedError(f"{type(self).__name__} cannot render")

    @overload
    def render(self, mode: Literal["rgb_array"]) -> np.ndarray: ...

    @overload
    def render(self, mode: Literal["human"] = "human") -> bool: ...

    @overload
    def render(self, mode: str) -> np.ndarray | bool: ...

    def render(self, mode: str = "human") -> np.ndarray | bool:
        """All envs' frames tiled into one RGB image: returned ('rgb_array'), or shown in a window ('human', whether
        the window is still open is returned), as baselines did. Without a display 'human' raises RuntimeError."""
        if mode not in RENDER_MODES:
            raise ValueError(f"render mode {mode!r} is not supported; use 'human' or 'rgb_array'")
        viewer = self.get_viewer() if mode == "human" else None  # before rendering: no display fails fast
        frames = self.get_images()
        if any(frame is None for frame in frames):  # gymnasium envs render nothing without a render_mode
            raise ValueError("the envs rendered no frames: make them with render_mode='rgb_array' to render")
        image = tile_images(frames)
        if viewer is None:
            return image
        viewer.imshow(image)
        return viewer.isopen

    def get_viewer(self) -> SimpleImageViewer:
        """The window of render(mode='human'), opened now if need be (RuntimeError without a display)."""
        if self.viewer is None:
            self.viewer = SimpleImageViewer(caption=type(self).__name__)
        return self.viewer

    def _close_viewer(self) -> None:
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None

    @property
    def unwrapped(self) -> VecEnv:
        return self

    def __enter__(self) -> VecEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to report to
            pass


class VecEnvWrapper(VecEnv):
    """A VecEnv that wraps another and changes some of what passes through; unknown attributes go to the inner one."""

    def __init__(
        self,
        venv: VecEnv,
        observation_space: gymnasium.Space | None = None,
        action_space: gymnasium.Space | None = None,
    ) -> None:
        self.venv = venv
        super().__init__(
            venv.num_envs,
            observation_space if observation_space is not None else venv.observation_space,
            action_space if action_space is not None else venv.action_space,
        )

    def step_async(self, actions: np.ndarray | Sequence[Any]) -> None:
        self.venv.step_async(actions)

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        return self.venv.step_wait()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._close_viewer()
        self.venv.close()

    def seed(self, seed: int | None = None) -> list[int | None]:
        return self.venv.seed(seed)

    def get_images(self) -> list[np.ndarray]:
        return self.venv.get_images()

    @property
    def unwrapped(self) -> VecEnv:
        return self.venv.unwrapped

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "venv":
            raise AttributeError(name)
        return getattr(self.venv, name)

    def __del__(self) -> None:
        """A wrapper owns nothing: dropping it must not close the env it wraps."""


class VecEnvObservationWrapper(VecEnvWrapper):
    """A VecEnvWrapper that changes only observations: subclasses define `process(obs)` for a batch.

    `reset` and `step_wait` pass their batch through it, and so does each `terminal_observation` in `infos` (as a
    batch of one), so a learner bootstrapping from it sees what the wrapper shows.
    """

    @abstractmethod
    def process(self, obs: Any) -> Any:
        """The observation batch (an array, or a dict of arrays) this wrapper shows for the inner one."""

    def reset(self) -> Any:
        return self.process(self.venv.reset())

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rews, dones, infos = self.venv.step_wait()
        for info in infos:
            if TERMINAL_OBSERVATION in info:
                info[TERMINAL_OBSERVATION] = _map_obs(self.process(_map_obs(info[TERMINAL_OBSERVATION], _add_batch)),
                                                      _drop_batch)
        return self.process(obs), rews, dones, infos


def _add_batch(array: Any) -> np.ndarray:
    return np.asarray(array)[None]


def _drop_batch(array: Any) -> Any:
    return array[0]


def _map_obs(obs: Any, fn: Any) -> Any:
    """`fn` applied to each array of an observation (a dict or tuple of arrays, or one array)."""
    if isinstance(obs, dict):
        return {key: _map_obs(value, fn) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_map_obs(value, fn) for value in obs)
    return fn(obs)


def check_action_count(actions: Any, num_envs: int) -> None:
    """Raise ValueError unless `actions` is a batch of one action per env (not a bare action, nor another count)."""
    try:
        count = len(actions)
    except TypeError:  # a scalar or a 0-d array: one bare action
        raise ValueError(f"expected a batch of {num_envs} actions, one action per env, got the single action "
                         f"{actions!r}") from None
    if count != num_envs:
        raise ValueError(f"got {count} actions for {num_envs} envs; step takes one action per env")


class CloudpickleWrapper:
    """An object serialized with cloudpickle, so lambdas and closures (env factories) reach worker processes.

    `x` is the object, as in baselines. Serializing happens here, at construction, so an unpicklable factory fails
    in the caller's process rather than in a worker.
    """

    def __init__(self, x: Any) -> None:
        self._data = cloudpickle.dumps(x)

    @property
    def x(self) -> Any:
        """The wrapped object, rebuilt from its serialized form (baselines' attribute)."""
        return self.load()

    def load(self) -> Any:
        """The original object, rebuilt in this process."""
        return pickle.loads(self._data)


@contextlib.contextmanager
def clear_mpi_env_vars() -> Iterator[None]:
    """Remove MPI's launcher variables from os.environ for the duration, so processes started meanwhile are not ranks.

    Under mpiexec, a worker that imports mpi4py (say, by re-importing a script that does) would otherwise take
    itself for the rank that started it and fail in MPI_Init (MPICH: "PMI_Init failed") or hang. baselines'
    function of the same name; the variables are restored on exit.
    """
    removed = {name: value for name, value in os.environ.items() if name.startswith(MPI_ENV_PREFIXES)}
    for name in removed:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(removed)
