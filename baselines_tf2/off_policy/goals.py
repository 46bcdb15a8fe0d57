"""Goal-based observations (gymnasium-robotics' Fetch and Hand tasks): a Dict of 'observation', 'achieved_goal' and
'desired_goal'. The learners act on the observation and the desired goal side by side (baselines' HER networks
take concat(o, g)); the achieved goal is what hindsight relabelling reads. No TensorFlow here."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium
import numpy as np

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def is_goal_space(space: gymnasium.Space) -> bool:
    """Whether `space` is a goal env's Dict of flat-able Boxes under GOAL_KEYS (other keys are allowed)."""
    return (isinstance(space, gymnasium.spaces.Dict)
            and all(isinstance(space.spaces.get(key), gymnasium.spaces.Box) for key in GOAL_KEYS)
            and space["achieved_goal"].shape == space["desired_goal"].shape)


def describe_goal_space_problem(space: gymnasium.Space) -> str:
    """Why `space` is not a goal space, in one line (for errors)."""
    if not isinstance(space, gymnasium.spaces.Dict):
        return f"its observations are {space}, not a Dict"
    missing = [key for key in GOAL_KEYS if not isinstance(space.spaces.get(key), gymnasium.spaces.Box)]
    if missing:
        return f"its Dict observations lack Box entries {missing} (keys: {list(space.spaces)})"
    return (f"its achieved_goal {space['achieved_goal'].shape} and desired_goal {space['desired_goal'].shape} "
            "differ in shape")


def goal_sizes(space: gymnasium.spaces.Dict) -> tuple[int, int]:
    """(observation size, goal size), flattened."""
    return int(np.prod(space["observation"].shape or ())), int(np.prod(space["desired_goal"].shape or ()))


def flat_goal_observations(obs: Mapping[str, Any], clip: float | None = None) -> np.ndarray:
    """A batch of goal observations as the learners' float32 input [B, obs + goal]: concat(observation, desired
    goal), each clipped to +-`clip` first when given (baselines' HER clip_obs)."""
    observation = np.asarray(obs["observation"], np.float32)
    goal = np.asarray(obs["desired_goal"], np.float32)
    batch = observation.shape[0] if observation.ndim > 1 else 1
    flat = np.concatenate([observation.reshape(batch, -1), goal.reshape(batch, -1)], axis=1)
    return flat if clip is None else np.clip(flat, -clip, clip)
