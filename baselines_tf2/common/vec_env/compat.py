"""Adapting envs written for the old gym API (or not deriving from gymnasium.Env) to the gymnasium 1.x API.

Old gym envs return only the observation from `reset()`, 4 values `(obs, reward, done, info)` from `step()`,
and are seeded with `seed(s)`. Renaming `gym` to `gymnasium` makes such an env a gymnasium.Env subclass without
changing how it behaves, so the base class proves nothing: the old API is recognised by `reset`'s signature
(no `seed` parameter), and then, for any env, by what each call returns (`as_reset_result`, `as_step_result`),
never by stepping the env on its own. Spaces are converted by duck typing: gym's Box, Discrete, MultiDiscrete,
MultiBinary, Dict and Tuple (read through `low`/`high`/`shape`/`dtype`, `n`, `nvec`, `spaces`) become gymnasium
spaces; any other non-gymnasium space is rejected with a TypeError.
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
    """`env` with gymnasium's reset/step signatures: `env` itself when its innermost env has them, else adapted.

    An old-API env under gymnasium's own kind of wrappers (what `gymnasium.make` returns for a registered old
    env: they pass seed= down and unpack 5-tuples) gets the adapter slipped in under the innermost wrapper,
    in place, so the wrappers keep working; under old-style wrappers, the whole stack is adapted.
    """
    if not isinstance(env, gymnasium.Env):
        missing = [name for name in _REQUIRED_ENV_ATTRIBUTES if not hasattr(env, name)]
        if missing:
            raise TypeError(
                f"{type(env).__name__} is not an environment: it lacks {', '.join(missing)}; "
                "an env factory must return a gymnasium.Env or an object with reset, step, "
                "observation_space and action_space"
            )
        return GymApiAdapter(env)
    wrappers: list[gymnasium.Wrapper] = []
    base: gymnasium.Env = env
    while isinstance(base, gymnasium.Wrapper):
        wrappers.append(base)
        base = base.env
    if not has_old_reset(base):
        return env
    if wrappers and all(_accepts_keyword(wrapper.reset, "seed", through_kwargs=False) for wrapper in wrappers):
        wrappers[-1].env = GymApiAdapter(base)
        return env
    return GymApiAdapter(env)


def has_old_reset(env: Any) -> bool:
    """Whether `env.reset` has the old gym signature: no `seed` parameter, or only **kwargs next to a seed() method.

    An old env, or an old wrapper forwarding **kwargs, is seeded through seed(); passing seed= down would
    reach an old reset() that refuses it.
    """
    if _accepts_keyword(env.reset, "seed", through_kwargs=False):
        return False
    return not _accepts_keyword(env.reset, "seed") or callable(getattr(env, "seed", None))


def as_reset_result(env: Any, result: Any) -> tuple[Any, dict[str, Any]]:
    """What `env.reset()` returned as gymnasium's `(obs, info)`; a bare observation (old gym) gets an empty info."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        return result[0], result[1]
    _note_old_api(env)
    return result, {}


def as_step_result(env: Any, result: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
    """What `env.step()` returned as gymnasium's 5-tuple; an old 4-tuple's `done` is split using
    info['TimeLimit.truncated'], as gym's TimeLimit reported a cut episode."""
    if len(result) == 5:
        return result
    if len(result) != 4:
        raise TypeError(
            f"{_env_name(env)}.step() returned {len(result)} values; expected 5 (gymnasium) or 4 (old gym)"
        )
    _note_old_api(env)
    obs, reward, done, info = result
    truncated = bool(done) and bool(info.get(TRUNCATED, False))
    return obs, reward, bool(done) and not truncated, truncated, info


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
    """Gives an env the gymnasium API: seeds it through its old seed() method and converts old-API results."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.observation_space = to_gymnasium_space(env.observation_space)
        self.action_space = to_gymnasium_space(env.action_space)
        self.metadata = dict(getattr(env, "metadata", None) or {})
        self.render_mode = getattr(env, "render_mode", None)
        self.spec = getattr(env, "spec", None)  # gymnasium.make's wrappers read the spec from the env under them

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env; an env whose reset() takes no seed is seeded through its old `seed()` method."""
        super().reset(seed=seed)
        kwargs: dict[str, Any] = {}
        if seed is not None:
            # Old gym wrappers take reset(**kwargs) but only pass them on, so seed() is preferred over **kwargs.
            if _accepts_keyword(self.env.reset, "seed", through_kwargs=False):
                kwargs["seed"] = seed
            elif callable(seed_method := self._wrapper_attr("seed")):
                _note_old_api(self.env)
                seed_method(seed)
            elif _accepts_keyword(self.env.reset, "seed"):
                kwargs["seed"] = seed
            else:
                raise TypeError(
                    f"{_env_name(self.env)} cannot be seeded: its reset() takes no seed and it has no seed()"
                )
        if options is not None:
            if not _accepts_keyword(self.env.reset, "options"):
                raise TypeError(f"{_env_name(self.env)}.reset() takes no options; got options={options!r}")
            kwargs["options"] = options
        obs, info = as_reset_result(self.env, self.env.reset(**kwargs))
        return obs, dict(info)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the env; an old 4-tuple becomes gymnasium's 5-tuple (see `as_step_result`)."""
        return as_step_result(self.env, tuple(self.env.step(action)))

    def render(self) -> Any:
        """A frame from the env; old-API envs are asked for mode='rgb_array'."""
        if _accepts_keyword(self.env.render, "mode"):
            return self.env.render(mode="rgb_array")
        return self.env.render()

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if callable(close):
            close()

    @property
    def unwrapped(self) -> gymnasium.Env:
        """The innermost gymnasium env under the adapter (the adapter itself for a duck-typed env)."""
        return self.env.unwrapped if isinstance(self.env, gymnasium.Env) else self

    def __getattr__(self, name: str) -> Any:
        """Other attributes come from the adapted env (through its wrappers), so get_attr/env_method reach it."""
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        if isinstance(self.env, gymnasium.Env):
            return self.env.get_wrapper_attr(name)
        return getattr(self.env, name)

    def set_wrapper_attr(self, name: str, value: Any, *, force: bool = True) -> bool:
        """Set `name` on the adapted env, so set_attr changes the env and not just the adapter."""
        if isinstance(self.env, gymnasium.Env):
            return self.env.set_wrapper_attr(name, value, force=force)
        if force or hasattr(self.env, name):
            setattr(self.env, name, value)
            return True
        return False

    def _wrapper_attr(self, name: str) -> Any:
        """Attribute `name` of the adapted env or, for a gymnasium wrapper, of an env under it; None if absent."""
        try:
            return self.__getattr__(name)
        except AttributeError:
            return None


def _env_name(env: Any) -> str:
    cls = type(env)
    return f"{cls.__module__}.{cls.__qualname__}"


def _note_old_api(env: Any) -> None:
    """Warn, once per env class and process, that `env` is being adapted."""
    name = _env_name(env)
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
