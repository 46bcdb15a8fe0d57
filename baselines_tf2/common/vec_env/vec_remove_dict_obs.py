"""VecExtractDictObs: show one entry of a Dict observation space, for learners that take a single array."""

from __future__ import annotations

from typing import Any

import gymnasium

from baselines_tf2.common.vec_env.vec_env import VecEnv, VecEnvObservationWrapper


class VecExtractDictObs(VecEnvObservationWrapper):
    """The observation batch under `key` of a VecEnv whose observation space is a `gymnasium.spaces.Dict`."""

    def __init__(self, venv: VecEnv, key: str) -> None:
        space = venv.observation_space
        if not isinstance(space, gymnasium.spaces.Dict):
            raise TypeError(f"VecExtractDictObs needs a Dict observation space, got {space}")
        if key not in space.spaces:
            raise KeyError(f"VecExtractDictObs: no key {key!r} in the observation space (keys: {list(space.spaces)})")
        self.key = key
        super().__init__(venv, observation_space=space.spaces[key])

    def process(self, obs: dict[str, Any]) -> Any:
        """The batch under `key`."""
        return obs[self.key]
