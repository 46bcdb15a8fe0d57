"""Evaluation while training: every N env steps, play some episodes on a separate env, log the mean score and keep
the agent with the best one."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.training.agent import Agent

STEPS_WITHOUT_EPISODE_LIMIT = 1_000_000  # batched steps with no finished episode before playing gives up

ActFunction = Callable[[Any], np.ndarray]  # observations -> actions


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
        return bool(self.every) and timesteps // self.every > (timesteps - steps) // self.every

    def training_state(self) -> dict[str, Any]:
        """What a resumed run needs to keep the best agent as this one did."""
        return {"best_eval_score": self.best}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back `training_state` from a checkpoint's training state."""
        best = state.get("best_eval_score")
        self.best = None if best is None else float(best)

    def evaluate(self, agent: Agent, timesteps: int) -> float:
        """Play, log and keep the best; the mean score."""
        if self._obs is None:
            self._obs = self.env.reset()
        scores, self._obs = play_on(self.env, self._obs, self.episodes, self.act)
        mean_score = float(np.mean(scores))
        logger.logkv("eval/mean_score", mean_score)
        logger.logkv("eval/timesteps", timesteps)
        logger.dumpkvs()
        if self.best is None or mean_score > self.best:
            self.best = mean_score
            agent.save(self.path)
        return mean_score
