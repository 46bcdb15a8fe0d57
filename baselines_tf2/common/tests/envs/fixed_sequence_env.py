"""baselines' FixedSequenceEnv: the observation is always 0 and the reward is for playing a fixed sequence.

The sequence is drawn once, at the first reset (from its seed), and kept for the env's lifetime, so a recurrent
policy can learn it. As in baselines, the step that ends the episode (after `episode_len` steps) earns 0, so the
best return is `episode_len - 1`. That end terminates the episode (baselines' done): the task is over, and a learner
bootstrapping past it, as PPO2 and A2C do through a truncation, would chase values of steps that never come.
"""

from __future__ import annotations

from typing import Any

import gymnasium


class FixedSequenceEnv(gymnasium.Env):
    """Discrete(n_actions) actions, Discrete(1) observations; reward 1 when the action is the sequence's next."""

    metadata = {"render_modes": []}

    def __init__(self, n_actions: int = 10, episode_len: int = 100) -> None:
        self.n_actions = n_actions
        self.action_space = gymnasium.spaces.Discrete(n_actions)
        self.observation_space = gymnasium.spaces.Discrete(1)
        self.episode_len = episode_len
        self.sequence: list[int] | None = None
        self.time = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        if self.sequence is None:
            self.sequence = [int(a) for a in self.np_random.integers(0, self.n_actions, self.episode_len)]
        self.time = 0
        return 0, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if self.sequence is None:
            raise RuntimeError("call reset() before step()")
        reward = float(int(action) == self.sequence[self.time])
        self.time += 1
        terminated = self.time >= self.episode_len
        if terminated:
            reward = 0.0
        return 0, reward, terminated, False, {}
