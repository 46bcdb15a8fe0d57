"""baselines' generic gymnasium wrappers: TimeLimit and ClipActionsWrapper (no TensorFlow here)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium
import numpy as np


class TimeLimit(gymnasium.Wrapper):
    """Truncates an episode after `max_episode_steps` steps (None: never), as baselines' TimeLimit.

    The end is reported as gymnasium does, with `truncated=True`; the VecEnvs turn that into
    info['TimeLimit.truncated'], the key baselines' wrapper set itself.
    """

    def __init__(self, env: gymnasium.Env, max_episode_steps: int | None = None) -> None:
        super().__init__(env)
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        self._max_episode_steps = max_episode_steps
        self._elapsed_steps = 0

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._elapsed_steps += 1
        if self._max_episode_steps is not None and self._elapsed_steps >= self._max_episode_steps:
            truncated = True
        return observation, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self._elapsed_steps = 0
        return self.env.reset(seed=seed, options=options)


class ClipActionsWrapper(gymnasium.ActionWrapper):
    """Clips Box actions to the action space's [low, high] before the env sees them; other actions pass through.

    Unlike gymnasium's ClipAction it keeps the env's action space, so the policy still sees the real bounds.
    """

    def action(self, action: Any) -> Any:
        space = self.env.action_space
        if not isinstance(space, gymnasium.spaces.Box):
            return action
        # As baselines: a NaN becomes 0 and an infinity the bound, rather than poisoning the simulator's state.
        # (np.minimum/np.maximum: np.nan_to_num and np.clip cost ~4x as much per MuJoCo step)
        action = np.asarray(action)
        return np.minimum(np.maximum(np.where(np.isnan(action), 0.0, action), space.low), space.high)
