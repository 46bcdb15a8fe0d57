"""An env whose exact state can be saved as data and rebuilt: it logs the calls since its game was last reseeded.

Env states cannot be saved in general without pickling (which checkpoints never do). With every reset seeded,
an env's state is a function of the calls made since its base env was last reseeded, so replaying them on a
fresh copy rebuilds it exactly: frame stacks, lives, time limits and all. `--deterministic` runs use this so an
interrupted run resumes on the very states it stopped at.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium
import numpy as np


def episode_seed(first_seed: int, reset_number: int) -> int:
    """The seed of reset number `reset_number` (0 = the first) of an env first seeded with `first_seed`."""
    if reset_number == 0:
        return first_seed
    return int(np.random.SeedSequence([first_seed, reset_number]).generate_state(1, np.uint32)[0])


class ResumableEnv(gymnasium.Wrapper):
    """Seeds every reset (from the first seed and a reset count) and logs the calls since the base env was
    last reseeded; `replay_state()` is that log as JSON data, `restore_replay(state)` replays it.

    A reset that does not reach the base env (EpisodicLifeEnv after a lost life) keeps the log growing, so the
    log always starts at a real, seeded game start. The first reset must be given a seed.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._first_seed: int | None = None
        self._resets = 0
        self._log: list[list[Any]] = []  # ["reset", seed] or ["step", action as a JSON value]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if options is not None:
            raise ValueError("ResumableEnv cannot log reset options; reset it without options")
        if seed is not None and self._first_seed is None:
            self._first_seed = int(seed)
        if self._first_seed is None:
            raise ValueError("a ResumableEnv must be seeded on its first reset (deterministic runs need --seed)")
        if seed is None:
            seed = episode_seed(self._first_seed, self._resets)
        self._resets += 1
        return self._logged_reset(int(seed))

    def _logged_reset(self, seed: int) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed)
        if self.env.unwrapped.np_random_seed == seed:  # the game itself restarted from this seed
            self._log = []
        self._log.append(["reset", seed])
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._log.append(["step", np.asarray(action).tolist()])
        return self.env.step(action)

    def replay_state(self) -> dict[str, Any]:
        """This env's state as JSON data: the first seed, the reset count and the calls since the game started."""
        return {"first_seed": self._first_seed, "resets": self._resets, "log": [list(entry) for entry in self._log]}

    def restore_replay(self, state: dict[str, Any]) -> None:
        """Bring this env to the state `replay_state()` described, by replaying its calls on the wrapped env."""
        log = state["log"]
        if not log or log[0][0] != "reset":
            raise ValueError("an env replay log must start with a reset")
        action_dtype = self.action_space.dtype
        # the log starts at a real game start; a life-loss wrapper (EpisodicLifeEnv) that has already played would
        # take that first reset for a lost life's and go on with its game instead of restarting it
        wrapper: Any = self.env
        while isinstance(wrapper, gymnasium.Wrapper):
            if hasattr(wrapper, "was_real_done"):
                wrapper.was_real_done = True
            wrapper = wrapper.env
        for kind, value in log:
            if kind == "reset":
                self.env.reset(seed=int(value))
            elif kind == "step":
                self.env.step(np.asarray(value, dtype=action_dtype) if np.ndim(value) else np.asarray(value).item())
            else:
                raise ValueError(f"unknown entry {kind!r} in an env replay log")
        self._first_seed = int(state["first_seed"])
        self._resets = int(state["resets"])
        self._log = [list(entry) for entry in log]
