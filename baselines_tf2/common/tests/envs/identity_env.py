"""baselines' identity envs: the observation is a random action, and the reward is for repeating it.

With `delay=d`, the action must repeat the observation shown d steps earlier (the first d rewards are 0 when
`zero_first_rewards`). An episode ends after `episode_len` steps as a truncation (gymnasium's time limit;
baselines reported it as done), and never when `episode_len` is None.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np


class IdentityEnv(gymnasium.Env):
    """Base class: subclasses set `action_space` before calling this constructor and define `_get_reward`."""

    metadata = {"render_modes": []}
    action_space: gymnasium.Space

    def __init__(self, episode_len: int | None = None, delay: int = 0, zero_first_rewards: bool = True) -> None:
        self.observation_space = self.action_space
        self.episode_len = episode_len
        self.delay = delay
        self.zero_first_rewards = zero_first_rewards
        self.time = 0
        self.q: deque[Any] = deque(maxlen=delay + 1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)  # targets are drawn by sampling the action space, as in baselines
        self.q.clear()
        for _ in range(self.delay + 1):
            self.q.append(self.action_space.sample())
        self.time = 0
        return self.q[-1], {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        reward = self._get_reward(self.q.popleft(), action)
        if self.zero_first_rewards and self.time < self.delay:
            reward = 0.0
        self.q.append(self.action_space.sample())
        self.time += 1
        truncated = self.episode_len is not None and self.time >= self.episode_len
        return self.q[-1], reward, False, truncated, {}

    def _get_reward(self, state: Any, action: Any) -> float:
        raise NotImplementedError


class DiscreteIdentityEnv(IdentityEnv):
    """Discrete(dim): reward 1 for the shown index, else 0."""

    def __init__(self, dim: int, episode_len: int | None = None, delay: int = 0,
                 zero_first_rewards: bool = True) -> None:
        self.action_space = gymnasium.spaces.Discrete(dim)
        super().__init__(episode_len=episode_len, delay=delay, zero_first_rewards=zero_first_rewards)

    def _get_reward(self, state: Any, action: Any) -> float:
        return float(int(state) == int(action))


class MultiDiscreteIdentityEnv(IdentityEnv):
    """MultiDiscrete(dims): reward 1 when every component matches, else 0."""

    def __init__(self, dims: Sequence[int], episode_len: int | None = None, delay: int = 0) -> None:
        self.action_space = gymnasium.spaces.MultiDiscrete([int(d) for d in dims])
        super().__init__(episode_len=episode_len, delay=delay)

    def _get_reward(self, state: Any, action: Any) -> float:
        return float(np.all(np.asarray(state) == np.asarray(action)))


class BoxIdentityEnv(IdentityEnv):
    """Box [-1, 1]^shape: reward -0.5 * ||action - shown||^2 (best 0)."""

    def __init__(self, shape: tuple[int, ...], episode_len: int | None = None) -> None:
        self.action_space = gymnasium.spaces.Box(low=-1.0, high=1.0, shape=shape, dtype=np.float32)
        super().__init__(episode_len=episode_len)

    def _get_reward(self, state: Any, action: Any) -> float:
        diff = np.ravel(np.asarray(action, np.float32) - state)
        return float(-0.5 * np.dot(diff, diff))
