"""A VecEnv's exact state as JSON data, for deterministic resume: each wrapper's own state plus every env's replay log.

The observation the learner last saw is saved with the learner; a VecFrameStack's stack is exactly that
observation, so it is restored from it rather than stored twice.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, cast

import numpy as np

from baselines_tf2.common.vec_env.vec_env import VecEnv, VecEnvWrapper
from baselines_tf2.common.vec_env.vec_frame_stack import VecFrameStack
from baselines_tf2.common.vec_env.vec_monitor import VecMonitor
from baselines_tf2.common.vec_env.vec_normalize import VecNormalize
from baselines_tf2.common.vec_env.vec_video_recorder import VecVideoRecorder

REPLAY_STATE_METHOD = "replay_state"  # ResumableEnv's methods, called through env_method
RESTORE_REPLAY_METHOD = "restore_replay"


class _EnvMethods(Protocol):
    """A VecEnv that calls methods of its envs (DummyVecEnv, SubprocVecEnv, ShmemVecEnv)."""

    def env_method(
        self, method_name: str, *method_args: Any, indices: Sequence[int] | None = None, **method_kwargs: Any
    ) -> list[Any]: ...


class NotResumableError(ValueError):
    """The VecEnv holds state that cannot be saved as data (an unknown wrapper, envs without ResumableEnv)."""


def _wrapper_chain(venv: VecEnv) -> tuple[list[VecEnvWrapper], VecEnv]:
    wrappers: list[VecEnvWrapper] = []
    while isinstance(venv, VecEnvWrapper):
        wrappers.append(venv)
        venv = venv.venv
    return wrappers, venv


def capture_vec_env_state(venv: VecEnv) -> dict[str, Any]:
    """The state of `venv` from its outermost wrapper down to its envs' replay logs, as JSON data."""
    wrappers, base = _wrapper_chain(venv)
    levels = [_wrapper_state(wrapper) for wrapper in wrappers]
    try:
        envs = cast(_EnvMethods, base).env_method(REPLAY_STATE_METHOD)  # AttributeError if it has none
    except AttributeError:
        raise NotResumableError(
            "the envs were not made resumable (baselines_tf2.common.resumable_env.ResumableEnv outermost, e.g. "
            "make_vec_env(..., resumable=True)); exact resume needs it"
        ) from None
    return {"wrappers": levels, "envs": envs}


def _wrapper_state(wrapper: VecEnvWrapper) -> dict[str, Any]:
    if isinstance(wrapper, VecVideoRecorder):  # what it records does not change what is learned
        return {"kind": "VecVideoRecorder"}
    if isinstance(wrapper, VecFrameStack):
        return {"kind": "VecFrameStack"}
    if isinstance(wrapper, VecNormalize):
        return {"kind": "VecNormalize", "returns": wrapper.returns.tolist()}
    if isinstance(wrapper, VecMonitor):
        return {"kind": "VecMonitor", "episode_returns": wrapper.episode_returns.tolist(),
                "episode_lengths": wrapper.episode_lengths.tolist()}
    raise NotResumableError(f"{type(wrapper).__name__} holds state exact resume cannot save")


def restore_vec_env_state(venv: VecEnv, state: dict[str, Any], observation: np.ndarray) -> None:
    """Bring `venv` to a captured state; `observation` is the batch it returned last before the capture."""
    wrappers, base = _wrapper_chain(venv)
    levels = state["wrappers"]
    kinds = [level["kind"] for level in levels]
    if kinds != [type(wrapper).__name__ for wrapper in wrappers]:
        raise NotResumableError(f"the saved env state has wrappers {kinds}, this VecEnv "
                                f"{[type(wrapper).__name__ for wrapper in wrappers]}")
    if len(state["envs"]) != base.num_envs:
        raise NotResumableError(f"the saved env state has {len(state['envs'])} envs, this VecEnv {base.num_envs}")
    for index, env_state in enumerate(state["envs"]):
        cast(_EnvMethods, base).env_method(RESTORE_REPLAY_METHOD, env_state, indices=[index])
    top_level_observation: np.ndarray | None = observation
    for wrapper, level in zip(wrappers, levels):
        if isinstance(wrapper, VecFrameStack):
            if top_level_observation is None:
                raise NotResumableError("a VecFrameStack below a VecNormalize cannot be restored from the observation")
            wrapper.stackedobs[...] = top_level_observation
        elif isinstance(wrapper, VecNormalize):
            wrapper.returns[...] = level["returns"]
            top_level_observation = None  # below it observations are unnormalized
        elif isinstance(wrapper, VecMonitor):
            wrapper.episode_returns[...] = level["episode_returns"]
            wrapper.episode_lengths[...] = level["episode_lengths"]
