"""baselines' two callback conventions, kept as baselines has them and decided here, in one place.

- ppo2, a2c (and the other on-policy learners): `callback(locals())` after each update; returning False stops.
- deepq: `callback(locals(), globals())` before each env step; returning True stops. trpo_mpi calls it so before
  each iteration (baselines' ignored the return; a truthy one stops here, as deepq's).

The locals dict is built only when a callback is given, never on every step for nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from baselines_tf2.common.mpi_util import World


@dataclass(frozen=True)
class StopCallback:
    """A user's callback, called by the TrainingRun before or after each iteration with the algorithm's locals."""

    function: Callable[..., Any]
    local_vars: Callable[[], dict[str, Any]]  # builds the dict the callback sees, when it is called
    stop_when: bool  # True: a truthy return stops (deepq); False: returning exactly False stops (ppo2, a2c)
    before_iteration: bool
    global_vars: dict[str, Any] | None  # deepq's callbacks also get the learner module's globals()

    def says_stop(self, world: World) -> bool:
        """Call the callback; True if it asked to stop on any MPI rank (so every rank stops together)."""
        arguments = (self.local_vars(),) if self.global_vars is None else (self.local_vars(), self.global_vars)
        result = self.function(*arguments)
        wants_stop = bool(result) if self.stop_when else result is False
        return any(world.gather(wants_stop))


def after_update_callback(
    function: Callable[[dict[str, Any]], Any] | None, local_vars: Callable[[], dict[str, Any]]
) -> StopCallback | None:
    """baselines' ppo2/a2c convention: `function(locals())` after each update, False stops."""
    if function is None:
        return None
    return StopCallback(function, local_vars, stop_when=False, before_iteration=False, global_vars=None)


def before_step_callback(
    function: Callable[[dict[str, Any], dict[str, Any]], Any] | None,
    local_vars: Callable[[], dict[str, Any]],
    global_vars: dict[str, Any],
) -> StopCallback | None:
    """baselines' deepq convention: `function(locals(), globals())` before each step, a truthy return stops."""
    if function is None:
        return None
    return StopCallback(function, local_vars, stop_when=True, before_iteration=True, global_vars=global_vars)


UNBOUNDED_TIMESTEPS = 2**62  # the step budget of a run that only an episode count or a time limit ends


def bounded_callback(function: Callable[..., Any] | None, *, max_episodes: int = 0,
                     max_seconds: float = 0.0) -> Callable[[dict[str, Any], dict[str, Any]], Any] | None:
    """trpo_mpi's and ppo1's `callback(locals(), globals())`, also stopping (a truthy return) once this process has
    finished `max_episodes` episodes or run `max_seconds` seconds (each when > 0); None when there is nothing to do."""
    if not max_episodes and not max_seconds:
        return function
    start = time.monotonic()

    def stop_or_call(local_vars: dict[str, Any], global_vars: dict[str, Any]) -> Any:
        if max_episodes and local_vars["episodes_so_far"] >= max_episodes:
            return True
        if max_seconds and time.monotonic() - start >= max_seconds:
            return True
        return function(local_vars, global_vars) if function is not None else None

    return stop_or_call
