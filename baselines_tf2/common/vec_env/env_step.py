"""Stepping one env with auto-reset: the single place that turns gymnasium's 5-tuple into baselines' 4-tuple."""

from __future__ import annotations

from typing import Any

import gymnasium

from baselines_tf2.common.vec_env.compat import as_reset_result, as_step_result
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED


def reset_env(env: gymnasium.Env, seed: int | None) -> Any:
    """Reset `env` (seeding it and its action space when `seed` is given) and return the first observation."""
    if seed is not None:
        env.action_space.seed(seed)
    obs, _info = as_reset_result(env, env.reset(seed=seed))
    return obs


def step_env(env: gymnasium.Env, action: Any) -> tuple[Any, float, bool, dict[str, Any]]:
    """Step `env`; at an episode end, record the last observation and the truncation flag, then reset.

    Results are read through `as_step_result`/`as_reset_result`, so an env that has gymnasium's signatures but
    still returns old-API values (a half-ported env) is converted too.
    """
    obs, reward, terminated, truncated, info = as_step_result(env, env.step(action))
    done = bool(terminated or truncated)
    if done:
        info = dict(info)
        info[TERMINAL_OBSERVATION] = obs
        info[TRUNCATED] = bool(truncated and not terminated)
        obs, _reset_info = as_reset_result(env, env.reset())
    return obs, float(reward), done, info
