"""Batch buffers for VecEnv observations: one array per observation key (Box spaces, or Dict of Box spaces)."""

from __future__ import annotations

from typing import Any, Union

import gymnasium
import numpy as np

ObsBatch = Union[np.ndarray, dict[str, np.ndarray]]


def obs_space_info(space: gymnasium.Space) -> dict[str | None, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype per observation key; the key is None for a plain (non-Dict) space."""
    subspaces: dict[str | None, gymnasium.Space]
    if isinstance(space, gymnasium.spaces.Dict):
        subspaces = {key: sub for key, sub in space.spaces.items()}
    else:
        subspaces = {None: space}
    info: dict[str | None, tuple[tuple[int, ...], np.dtype]] = {}
    for key, sub in subspaces.items():
        if sub.shape is None or sub.dtype is None:
            raise TypeError(
                f"observation space {sub} has no fixed shape/dtype; VecEnvs batch Box, Discrete, "
                "MultiBinary, MultiDiscrete and Dict of those"
            )
        info[key] = (tuple(sub.shape), np.dtype(sub.dtype))
    return info


def dict_obs_hint(space: gymnasium.Space) -> str:
    """For errors of wrappers that take one array: how to get one from a Dict space ('' for other spaces)."""
    if not isinstance(space, gymnasium.spaces.Dict):
        return ""
    return ("; for Dict observations, wrap VecExtractDictObs(venv, key) below it (keys: "
            f"{', '.join(map(str, space.spaces))}) or build the env with flatten_dict_observations=True")


class ObsBuffers:
    """Preallocated per-key arrays of shape [num_envs, *obs_shape] that envs write into one index at a time."""

    def __init__(self, space: gymnasium.Space, num_envs: int) -> None:
        self.buffers = {
            key: np.zeros((num_envs, *shape), dtype=dtype) for key, (shape, dtype) in obs_space_info(space).items()
        }

    def write(self, index: int, obs: Any) -> None:
        """Store env `index`'s observation (a dict for Dict spaces)."""
        if None in self.buffers:
            self.buffers[None][index] = obs
        else:
            for key, buffer in self.buffers.items():
                buffer[index] = obs[key]

    def copy(self) -> ObsBatch:
        """A copy of the batch, safe to keep after the next step."""
        if None in self.buffers:
            return self.buffers[None].copy()
        return {key: buffer.copy() for key, buffer in self.buffers.items() if key is not None}  # Dict keys are str


def copy_obs_dict(obs: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """A copy of a dict of observation arrays (baselines' vec_env.util helper)."""
    return {key: np.copy(value) for key, value in obs.items()}


def dict_to_obs(obs_dict: dict[Any, np.ndarray]) -> ObsBatch:
    """The observation a dict stands for: the array under key None for a plain space, else the dict itself."""
    if set(obs_dict) == {None}:
        return obs_dict[None]
    return obs_dict


def obs_to_dict(obs: Any) -> dict[Any, Any]:
    """An observation as a dict: a dict as is, anything else under key None (the inverse of dict_to_obs)."""
    if isinstance(obs, dict):
        return obs
    return {None: obs}
