"""Envs written to the old gym API (obs-only reset, 4-value step, seed()) run in every VecEnv, with one warning."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env.compat import OldGymApiWarning, ensure_gymnasium_api
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED

VENVS = {"dummy": DummyVecEnv, "subproc": SubprocVecEnv, "shmem": ShmemVecEnv}
EPISODE_LENGTH = 3


class Box:
    """Stand-in for gym.spaces.Box: only the fields the adapter reads."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...], dtype: type) -> None:
        self.low = np.full(shape, low, dtype)
        self.high = np.full(shape, high, dtype)
        self.shape = shape
        self.dtype = np.dtype(dtype)


class Discrete:
    """Stand-in for gym.spaces.Discrete."""

    def __init__(self, n: int) -> None:
        self.n = n


class OldApiCounterEnv:
    """Old gym API, no gymnasium base: obs is [seeded offset, step]; episodes end after EPISODE_LENGTH steps.

    With `time_limited`, the end is reported as gym's TimeLimit did: done=True, info['TimeLimit.truncated']=True.
    """

    def __init__(self, time_limited: bool = False) -> None:
        self.observation_space = Box(0, 255, (2,), np.uint8)
        self.action_space = Discrete(2)
        self.time_limited = time_limited
        self.rng = np.random.default_rng()
        self.offset = self.t = 0

    def seed(self, seed: int | None = None) -> list[int | None]:
        self.rng = np.random.default_rng(seed)
        return [seed]

    def reset(self) -> np.ndarray:
        self.offset, self.t = int(self.rng.integers(0, 100)), 0
        return self._obs()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        self.t += 1
        done = self.t >= EPISODE_LENGTH
        info: dict[str, Any] = {"t": self.t}
        if done and self.time_limited:
            info[TRUNCATED] = True
        return self._obs(), float(action), done, info

    def _obs(self) -> np.ndarray:
        return np.array([self.offset, self.t], dtype=np.uint8)


class OldApiWrapper:
    """An old gym wrapper: reset(**kwargs) only forwards, so the inner env must be seeded through seed()."""

    def __init__(self, env: OldApiCounterEnv) -> None:
        self.env = env
        self.observation_space, self.action_space = env.observation_space, env.action_space

    def seed(self, seed: int | None = None) -> list[int | None]:
        return self.env.seed(seed)

    def reset(self, **kwargs: Any) -> np.ndarray:
        return self.env.reset(**kwargs)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        return self.env.step(action)


class OnlyThisTestAdaptsMe(OldApiCounterEnv):
    """A class no other test adapts, so its one-time warning is still due when the warning test runs."""


def seeded_offset(seed: int) -> int:
    return int(np.random.default_rng(seed).integers(0, 100))


@pytest.mark.filterwarnings("ignore::baselines_tf2.common.vec_env.compat.OldGymApiWarning")
@pytest.mark.parametrize("kind", VENVS)
def test_old_api_env_runs_seeded_with_truncation_mapped(kind: str) -> None:
    fns = [OldApiCounterEnv, OldApiCounterEnv, functools.partial(OldApiCounterEnv, time_limited=True)]
    with VENVS[kind](fns) as venv:
        assert isinstance(venv.observation_space, gymnasium.spaces.Box)
        assert venv.observation_space.shape == (2,) and venv.action_space == gymnasium.spaces.Discrete(2)
        venv.seed(7)
        obs = venv.reset()
        np.testing.assert_array_equal(obs[:, 0], [seeded_offset(7), seeded_offset(8), seeded_offset(9)])
        for t in range(1, EPISODE_LENGTH + 1):
            obs, rewards, dones, infos = venv.step(np.array([1, 0, 1]))
            np.testing.assert_array_equal(rewards, [1.0, 0.0, 1.0])
            assert dones.tolist() == [t == EPISODE_LENGTH] * 3
    assert [info[TRUNCATED] for info in infos] == [False, False, True]
    for info, next_obs in zip(infos, obs):
        assert info[TERMINAL_OBSERVATION][1] == EPISODE_LENGTH and next_obs[1] == 0


@pytest.mark.filterwarnings("ignore::baselines_tf2.common.vec_env.compat.OldGymApiWarning")
def test_old_wrapper_with_kwargs_reset_is_seeded_through_seed() -> None:
    with DummyVecEnv([lambda: OldApiWrapper(OldApiCounterEnv())] * 2) as venv:
        venv.seed(4)
        np.testing.assert_array_equal(venv.reset()[:, 0], [seeded_offset(4), seeded_offset(5)])


def test_dummy_warns_once_per_env_class_naming_it() -> None:
    with pytest.warns(OldGymApiWarning, match=r"OnlyThisTestAdaptsMe uses the old gym API"):
        DummyVecEnv([OnlyThisTestAdaptsMe, OnlyThisTestAdaptsMe]).reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DummyVecEnv([OnlyThisTestAdaptsMe]).reset()
    assert not [w for w in caught if issubclass(w.category, OldGymApiWarning)]


def test_gymnasium_envs_pass_through_and_non_envs_are_refused() -> None:
    env = gymnasium.make("CartPole-v1")
    assert ensure_gymnasium_api(env) is env
    with pytest.raises(TypeError, match="lacks step, observation_space, action_space"):
        ensure_gymnasium_api(type("NotAnEnv", (), {"reset": lambda self: None})())
