"""Envs that misbehave on purpose, for the reliability tests; importable so worker processes can rebuild them."""

from __future__ import annotations

import math
import signal
import time
from typing import Any

import gymnasium
import numpy as np


class NaNRewardCartPole(gymnasium.Wrapper):
    """CartPole-v1 whose reward is NaN on env steps `nan_from` <= step < `nan_until` (counted over all episodes)."""

    def __init__(self, nan_from: int = 0, nan_until: float = math.inf) -> None:
        super().__init__(gymnasium.make("CartPole-v1"))
        self.nan_from = nan_from
        self.nan_until = nan_until
        self.steps = 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.nan_from <= self.steps < self.nan_until:
            reward = math.nan
        self.steps += 1
        return obs, reward, terminated, truncated, info


class HangingEnv(gymnasium.Env):
    """Counter env (episodes of 20 steps) whose step number `hang_at` (over all episodes, from 1) never returns.

    With `ignore_sigterm`, the hung step also ignores SIGTERM, as a process stuck in native code may.
    """

    observation_space = gymnasium.spaces.Box(0.0, 100.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, hang_at: int | None = None, ignore_sigterm: bool = False) -> None:
        self.hang_at = hang_at
        self.ignore_sigterm = ignore_sigterm
        self.steps = 0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        self.t += 1
        if self.steps == self.hang_at:
            if self.ignore_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(3600)
        return np.array([self.t, action], np.float32), 1.0, self.t >= 20, False, {}


class SlowCartPole(gymnasium.Wrapper):
    """CartPole-v1 whose every step takes `step_seconds`, so a training run spends its time waiting on its envs."""

    def __init__(self, step_seconds: float = 0.5) -> None:
        super().__init__(gymnasium.make("CartPole-v1"))
        self.step_seconds = step_seconds

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        time.sleep(self.step_seconds)
        return self.env.step(action)


# Registered on import, for command-line runs (see FAULT_ENV_SCRIPT in test_reliability.py).
REGISTRATIONS = {
    "NaNRewardCartPole-v0": ("fault_envs:NaNRewardCartPole", {}),  # NaN reward on every step
    "HangingCounter-v0": ("fault_envs:HangingEnv", {"hang_at": 300}),  # each env hangs on its step 300
    "SlowCartPole-v0": ("fault_envs:SlowCartPole", {"step_seconds": 0.5}),
}
for _env_id, (_entry_point, _kwargs) in REGISTRATIONS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(_env_id, entry_point=_entry_point, kwargs=_kwargs)
