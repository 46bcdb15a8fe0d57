"""Adapting envs written for the old gym API (or not deriving from gymnasium.Env) to the gymnasium 1.x API.

Old gym envs return only the observation from `reset()`, 4 values `(obs, reward, done, info)` from `step()`,
and are seeded with `seed(s)`. The adapter decides from what each call returns, never by stepping the env
on its own. Their spaces are converted by duck typing: gym's Box, Discrete, MultiDiscrete, MultiBinary,
Dict and Tuple (read through `low`/`high`/`shape`/`dtype`, `n`, `nvec`, `spaces`) become gymnasium spaces;
any other non-gymnasium space is rejected with a TypeError.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import gymnasium
import numpy as np

from baselines_tf2.common.vec_env.vec_env import TRUNCATED

_REQUIRED_ENV_ATTRIBUTES = ("reset", "step", "observation_space", "action_space")
_warned_env_classes: set[str] = set()


class OldGymApiWarning(UserWarning):
    """An env follows the old gym API and is being adapted to gymnasium's (emitted once per env class and process)."""


def ensure_gymnasium_api(env: Any) -> gymnasium.Env:
    """Return `env` itself if it is a gymnasium.Env, else an adapter giving it the gymnasium API."""
    if isinstance(env, gymnasium.Env):
        return env
    missing = [name for name in _REQUIRED_ENV_ATTRIBUTES if not hasattr(env, name)]
    if missing:
        raise TypeError(
            f"{type(env).__name__} is not an environment: it lacks {', '.join(missing)}; "
            "an env factory must return a gymnasium.Env or an object with reset, step, "
            "observation_space and action_space"
        )
    return GymApiAdapter(env)


def to_gymnasium_space(space: Any) -> gymnasium.Space:
    """`space` as a gymnasium space: gymnasium spaces pass through, gym-like ones are rebuilt from their fields."""
    if isinstance(space, gymnasium.Space):
        return space
    spaces = gymnasium.spaces
    kind = type(space).__name__
    if kind == "Box":
        return spaces.Box(low=np.asarray(space.low), high=np.asarray(space.high), dtype=np.dtype(space.dtype))
    if kind == "Discrete":
        return spaces.Discrete(int(space.n), start=int(getattr(space, "start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(space.nvec), dtype=np.dtype(space.dtype))
    if kind == "MultiBinary":
        return spaces.MultiBinary(space.n)
    if kind == "Dict":
        return spaces.Dict({key: to_gymnasium_space(sub) for key, sub in space.spaces.items()})
    if kind == "Tuple":
        return spaces.Tuple([to_gymnasium_space(sub) for sub in space.spaces])
    raise TypeError(
        f"cannot convert space {space!r} ({type(space).__module__}.{kind}) to a gymnasium space; "
        "use gymnasium spaces, or gym's Box, Discrete, MultiDiscrete, MultiBinary, Dict or Tuple"
    )


class GymApiAdapter(gymnasium.Env):
    """Gives a duck-typed env the gymnasium API; old-API results (bare obs, 4-tuple steps) are converted."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.observation_space = to_gymnasium_space(env.observation_space)
        self.action_space = to_gymnasium_space(env.action_space)
        self.metadata = dict(getattr(env, "metadata", None) or {})
        self.render_mode = getattr(env, "render_mode", None)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env; an env whose reset() takes no seed is seeded through its old `seed()` method."""
        super().reset(seed=seed)
        kwargs: dict[str, Any] = {}
        if seed is not None:
            # Old gym wrappers take reset(**kwargs) but only pass them on, so seed() is preferred over **kwargs.
            if _accepts_keyword(self.env.reset, "seed", through_kwargs=False):
                kwargs["seed"] = seed
            elif callable(getattr(self.env, "seed", None)):
                self._note_old_api()
                self.env.seed(seed)
            elif _accepts_keyword(self.env.reset, "seed"):
                kwargs["seed"] = seed
            else:
                raise TypeError(f"{self._env_name()} cannot be seeded: its reset() takes no seed and it has no seed()")
        if options is not None:
            if not _accepts_keyword(self.env.reset, "options"):
                raise TypeError(f"{self._env_name()}.reset() takes no options; got options={options!r}")
            kwargs["options"] = options
        result = self.env.reset(**kwargs)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            return result[0], dict(result[1])
        self._note_old_api()
        return result, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; an old 4-tuple's `done` is split using info['TimeLimit.truncated']."""
        result = tuple(self.env.step(action))
        if len(result) == 5:
            return result
        if len(result) != 4:
            raise TypeError(
                f"{self._env_name()}.step() returned {len(result)} values; expected 5 (gymnasium) or 4 (old gym)"
            )
        self._note_old_api()
        obs, reward, done, info = result
        truncated = bool(done) and bool(info.get(TRUNCATED, False))
        return obs, reward, bool(done) and not truncated, truncated, info

    def render(self) -> Any:
        """A frame from the env; old-API envs are asked for mode='rgb_array'."""
        if _accepts_keyword(self.env.render, "mode"):
            return self.env.render(mode="rgb_array")
        return self.env.render()

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        """Other attributes come from the adapted env, so get_attr/env_method reach it."""
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def _env_name(self) -> str:
        cls = type(self.env)
        return f"{cls.__module__}.{cls.__qualname__}"

    def _note_old_api(self) -> None:
        name = self._env_name()
        if name in _warned_env_classes:
            return
        _warned_env_classes.add(name)
        warnings.warn(
            f"{name} uses the old gym API (reset() returns only obs, step() returns 4 values, seed()); "
            "it is being adapted to the gymnasium API. Port it to gymnasium to silence this warning.",
            OldGymApiWarning,
            stacklevel=3,
        )


def _accepts_keyword(function: Callable[..., Any], name: str, through_kwargs: bool = True) -> bool:
    """Whether `function` takes keyword `name`, by name or (if `through_kwargs`) via **kwargs; False if unknown."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    if name in parameters:
        return True
    return through_kwargs and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
