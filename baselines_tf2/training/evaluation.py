"""Evaluation while training: every N env steps, play some episodes on a separate env, log the mean score and keep
the agent with the best one."""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.validation import ArgumentError
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.training.agent import Agent

STEPS_WITHOUT_EPISODE_LIMIT = 1_000_000  # batched steps with no finished episode before playing gives up

ActFunction = Callable[[Any], np.ndarray]  # observations -> actions


def require_eval_env(eval_freq: int, eval_env: Any) -> None:
    """ArgumentError when periodic evaluation is asked for (`eval_freq` > 0) without an env to evaluate on."""
    if eval_freq and eval_env is None:
        raise ArgumentError(f"eval_freq={eval_freq} needs an eval_env to evaluate on (learn(eval_env=...)); give one, "
                            "or eval_freq=0")


def passes_multiple(end: int, steps: int, every: int) -> bool:
    """Whether the last `steps` steps, which ended at step `end`, passed a multiple of `every` (0: never)."""
    return bool(every) and end // every > (end - steps) // every


def check_episode_progress(steps_since_episode: int) -> None:
    """Raise if an env has run for very long without reporting a finished episode (no Monitor below it)."""
    if steps_since_episode >= STEPS_WITHOUT_EPISODE_LIMIT:
        raise RuntimeError(
            f"no episode finished in {steps_since_episode} steps: the env must report info['episode'] "
            "(wrap it in baselines_tf2.bench.Monitor or use a VecMonitor)"
        )


def play_on(venv: VecEnv, obs: Any, episodes: int, act: ActFunction) -> tuple[list[float], Any]:
    """(scores of the next `episodes` episodes played on from `obs`, the observation after the last of them);
    scores as the env's Monitor counts them."""
    scores: list[float] = []
    steps_since_episode = 0
    while len(scores) < episodes:
        check_episode_progress(steps_since_episode)
        obs, _rewards, _dones, infos = venv.step(act(obs))
        finished = [float(info["episode"]["r"]) for info in infos if "episode" in info]
        steps_since_episode = 0 if finished else steps_since_episode + 1
        scores.extend(finished)
    return scores[:episodes], obs


class PeriodicEvaluation:
    """Every `every` env steps: `episodes` episodes on `env` with `act`, logged as eval/mean_score, and the agent
    saved to `path` when the mean beats the best so far. The env is reset once and played on (a Monitor refuses a
    reset mid-episode)."""

    def __init__(self, env: VecEnv, *, every: int, episodes: int, act: ActFunction, path: str) -> None:
        self.env = env
        self.every = every
        self.episodes = episodes
        self.act = act
        self.path = path
        self.best: float | None = None
        self._obs: Any = None

    def due(self, timesteps: int, steps: int = 1) -> bool:
        """Whether an evaluation falls within the last `steps` env steps, which ended at `timesteps`."""
        return passes_multiple(timesteps, steps, self.every)

    def training_state(self) -> dict[str, Any]:
        """What a resumed run needs to keep the best agent as this one did."""
        return {"best_eval_score": self.best}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back `training_state` from a checkpoint's training state, if the agent it scored is still at
        `path`."""
        best = state.get("best_eval_score")
        self.best = float(best) if best is not None and os.path.exists(self.path) else None

    def evaluate(self, agent: Agent, timesteps: int) -> float:
        """Play, log and keep the best; the mean score."""
        if self._obs is None:
            self._obs = self.env.reset()
        scores, self._obs = play_on(self.env, self._obs, self.episodes, self.act)
        mean_score = float(np.mean(scores))
        logger.logkv("eval/mean_score", mean_score)
        logger.logkv("eval/timesteps", timesteps)
        logger.dumpkvs()
        if math.isfinite(mean_score) and (self.best is None or mean_score > self.best):  # NaN would block all
            self.best = mean_score
            agent.save(self.path)
        return mean_score
