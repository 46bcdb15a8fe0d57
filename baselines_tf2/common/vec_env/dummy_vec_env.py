"""DummyVecEnv: every env in this process, stepped one after another (the reference the other VecEnvs must match)."""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

import gymnasium
import numpy as np

from baselines_tf2.bench.monitor import Monitor
from baselines_tf2.common.vec_env.compat import ensure_gymnasium_api
from baselines_tf2.common.vec_env.env_step import reset_env, step_env
from baselines_tf2.common.vec_env.util import ObsBatch, ObsBuffers
from baselines_tf2.common.vec_env.vec_env import (
    AlreadySteppingError,
    ClosedEnvError,
    NotSteppingError,
    VecEnv,
    check_action_count,
)


class DummyVecEnv(VecEnv):
    """Runs `env_fns` in-process; use it for cheap envs, debugging, and as the oracle in tests."""

    def __init__(self, env_fns: Sequence[Callable[[], gymnasium.Env]]) -> None:
        if not env_fns:
            raise ValueError("DummyVecEnv needs at least one env factory")
        self.envs = [ensure_gymnasium_api(fn()) for fn in env_fns]
        first = self.envs[0]
        super().__init__(len(self.envs), first.observation_space, first.action_space)
        self._obs = ObsBuffers(self.observation_space, self.num_envs)
        self._actions: np.ndarray | Sequence[Any] | None = None

    def reset(self) -> ObsBatch:
        self._check_open()
        for index, (env, seed) in enumerate(zip(self.envs, self._take_pending_seeds())):
            self._obs.write(index, reset_env(env, seed))
        return self._obs.copy()

    def step_async(self, actions: np.ndarray | Sequence[Any]) -> None:
        self._check_open()
        if self._actions is not None:
            raise AlreadySteppingError()
        if self.num_envs == 1 and _is_one_action(actions, self.action_space):
            actions = [actions]  # baselines: one env takes its action bare
        check_action_count(actions, self.num_envs)
        self._actions = actions

    def step_wait(self) -> tuple[ObsBatch, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise NotSteppingError()
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict[str, Any]] = []
        actions, self._actions = self._actions, None  # taken first: after an env raises, reset() and step() still work
        for index, (env, action) in enumerate(zip(self.envs, actions)):
            obs, rewards[index], dones[index], info = step_env(env, action)
            self._obs.write(index, obs)
            infos.append(info)
        return self._obs.copy(), rewards, dones, infos

    def close_extras(self) -> None:
        for env in self.envs:
            env.close()

    def get_images(self) -> list[np.ndarray]:
        # rgb_array envs (what get_images requires) render one array; gymnasium types render() for every mode
        return [cast(np.ndarray, env.render()) for env in self.envs]

    def env_method(
        self, method_name: str, *method_args: Any, indices: Sequence[int] | None = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call `method_name` (found through the env's wrappers) on the envs at `indices` (default all)."""
        return [
            self.envs[i].get_wrapper_attr(method_name)(*method_args, **method_kwargs) for i in self._indices(indices)
        ]

    def get_attr(self, attr_name: str, indices: Sequence[int] | None = None) -> list[Any]:
        """Attribute `attr_name` (found through the env's wrappers) of the envs at `indices` (default all)."""
        return [self.envs[i].get_wrapper_attr(attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Sequence[int] | None = None) -> None:
        """Set `attr_name` on the envs at `indices` (default all): on the wrapper defining it, else the outermost."""
        for i in self._indices(indices):
            self.envs[i].set_wrapper_attr(attr_name, value)

    def _indices(self, indices: Sequence[int] | None) -> list[int]:
        wanted = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        for index in wanted:
            if not 0 <= index < self.num_envs:
                raise IndexError(f"env index {index} out of range for {self.num_envs} envs")
        return wanted

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedEnvError()


def as_vec_env(env: Any, seed: int | None = None) -> Any:
    """A VecEnv (or None) as given; a single env in a DummyVecEnv, for auto-reset and terminal observations
    (baselines' deepq, ddpg, trpo_mpi and ppo1 took a single gym env), seeded with `seed` at its first reset.

    The single env is seeded because gymnasium seeds through `reset`: left unseeded, its first reset draws from OS
    entropy and a run given `seed` would not repeat. VecEnvs are the caller's to seed, as in baselines. A single
    env without a Monitor gets one (writing no file), so its episodes are logged."""
    if env is None or isinstance(env, VecEnv):
        return env
    if isinstance(env, gymnasium.Env) and not _is_monitored(env):
        # baselines' learners summed each episode's rewards themselves; ours read the Monitor's episode records
        # (logs, best model), so a bare env gets one
        env = Monitor(env, None, allow_early_resets=True)
    venv = DummyVecEnv([lambda: env])
    venv.seed(seed)
    return venv


def _is_monitored(env: gymnasium.Env) -> bool:
    """Whether a Monitor is among `env`'s wrappers."""
    while isinstance(env, gymnasium.Wrapper):
        if isinstance(env, Monitor):
            return True
        env = env.env
    return False


def _is_one_action(actions: Any, space: gymnasium.Space) -> bool:
    """Whether `actions` is one bare action of `space` (its shape: a scalar for Discrete) rather than a batch;
    Dict and Tuple actions always come as a batch."""
    if space.shape is None:
        return False
    return np.shape(actions) == tuple(space.shape)
