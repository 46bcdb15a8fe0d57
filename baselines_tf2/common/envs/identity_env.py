"""Identity envs (as in baselines' tests): the reward is highest for repeating the observation as the action.

Each episode lasts `episode_length` steps (ending as a time-limit truncation); the best return is
`episode_length` for the discrete env and 0 for the Box env.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


class _IdentityEnv(gymnasium.Env):
    """Shows a random target each step; subclasses define the spaces, how targets are drawn and the reward."""

    metadata = {"render_modes": []}

    def __init__(self, episode_length: int) -> None:
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.episode_length = episode_length
        self._target: Any = None
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        self._target = self.draw_target()
        return self._target, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        reward = self.reward(action)
        self._steps += 1
        self._target = self.draw_target()
        return self._target, reward, False, self._steps >= self.episode_length, {}

    def draw_target(self) -> Any:
        raise NotImplementedError

    def reward(self, action: Any) -> float:
        raise NotImplementedError


class DiscreteIdentityEnv(_IdentityEnv):
    """Observation k in Discrete(dim); reward 1 for action k, else 0."""

    observation_space: gymnasium.spaces.Discrete

    def __init__(self, dim: int = 4, episode_length: int = 100) -> None:
        super().__init__(episode_length)
        self.observation_space = gymnasium.spaces.Discrete(dim)
        self.action_space = gymnasium.spaces.Discrete(dim)

    def draw_target(self) -> int:
        return int(self.np_random.integers(self.observation_space.n))

    def reward(self, action: Any) -> float:
        return float(int(action) == self._target)


class BoxIdentityEnv(_IdentityEnv):
    """Observation x uniform in [-1, 1]^shape; reward -||a - x||^2 (best 0)."""

    def __init__(self, shape: tuple[int, ...] = (1,), episode_length: int = 100) -> None:
        super().__init__(episode_length)
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, shape=shape, dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=shape, dtype=np.float32)

    def draw_target(self) -> np.ndarray:
        return self.np_random.uniform(-1.0, 1.0, self.observation_space.shape).astype(np.float32)

    def reward(self, action: Any) -> float:
        return -float(np.sum(np.square(np.asarray(action, np.float32) - self._target)))
