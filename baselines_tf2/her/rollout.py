"""HER's test rollouts (baselines' evaluator `RolloutWorker(exploit=True)`).

After each epoch, every env plays `n_test_rollouts` episodes with the actor's deterministic actions; the success
rate (the env's `info['is_success']` at each episode's last step) and the mean Q of the actions are logged, averaged
over MPI ranks, and rank 0 keeps the policies baselines kept: `policy_best` (the highest test success rate so far),
`policy_latest` and every `policy_save_interval` epochs `policy_<epoch>`, in our checkpoint format.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.mpi_util import World
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.training.evaluation import passes_multiple


class TestRollouts:
    """The epoch's deterministic test episodes on `env`, and the policies they select."""

    def __init__(self, env: VecEnv, agent: Any, episodes_per_env: int, every: int, world: World,
                 save_path: str | None = None, policy_save_interval: int = 5) -> None:
        self.env = env
        self.agent = agent
        self.episodes_per_env = episodes_per_env
        self.every = every  # env steps per epoch
        self.world = world
        self.save_path = save_path
        self.policy_save_interval = policy_save_interval
        self.obs: Any = None  # where the envs stand after the rollouts (the training loop takes them back)
        self.epoch = 0  # the epoch just ended
        self.best_success_rate = -1.0
        self.values: dict[str, float] = {}

    def due(self, timesteps: int, steps: int = 1) -> bool:
        """At the end of each epoch (within the last `steps` env steps, which ended at `timesteps`)."""
        return passes_multiple(timesteps, steps, self.every)

    def evaluate(self, agent: Any, timesteps: int) -> None:
        """Play the episodes, log their success rate and Q, and save the policies."""
        obs = self.env.reset()
        episodes_done = np.zeros(self.env.num_envs, np.int64)
        successes: list[float] = []
        q_values: list[float] = []
        while episodes_done.min() < self.episodes_per_env:
            flat = agent.obs_tensor(obs)
            q_values.append(float(np.mean(agent.greedy_q(flat).numpy())))
            obs, _rewards, dones, infos = self.env.step(agent.scale_actions(agent.deterministic_actions(flat).numpy()))
            for index in np.flatnonzero(dones):
                if episodes_done[index] < self.episodes_per_env:
                    successes.append(float(infos[index].get("is_success", 0.0)))
                    episodes_done[index] += 1
        self.obs = obs
        self.epoch = timesteps // self.every - 1  # counts from the run's start, resumed runs included
        success_rate, mean_q = (float(value) for value in self.world.mean(
            np.array([np.mean(successes), np.mean(q_values)], np.float64)))
        self.values = {"epoch": self.epoch, "test/success_rate": success_rate, "test/mean_Q": mean_q,
                       "test/episode": len(successes) * (self.epoch + 1)}
        if self.world.rank == 0 and self.save_path:
            self._save(agent, success_rate, timesteps)

    def training_state(self) -> dict[str, Any]:
        """What a resumed run needs to keep choosing policy_best as this one did."""
        return {"best_test_success_rate": self.best_success_rate}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back `training_state` from a checkpoint's training state, if its policy_best is still there."""
        kept = self.save_path is not None and os.path.exists(os.path.join(self.save_path, "policy_best"))
        self.best_success_rate = float(state.get("best_test_success_rate", -1.0)) if kept else -1.0

    def _save(self, agent: Any, success_rate: float, timesteps: int) -> None:
        """baselines' policy files: best (ties go to the newer), latest, and periodic."""
        folder = self.save_path or "."
        os.makedirs(folder, exist_ok=True)
        trained = {"timesteps": timesteps}  # the agent's own count moves only at the run's checkpoints
        if success_rate >= self.best_success_rate:
            self.best_success_rate = success_rate
            logger.info(f"New best success rate: {success_rate}. Saving policy to {folder}/policy_best ...")
            agent.save(os.path.join(folder, "policy_best"), trained)
        agent.save(os.path.join(folder, "policy_latest"), trained)
        if self.policy_save_interval > 0 and self.epoch % self.policy_save_interval == 0:
            agent.save(os.path.join(folder, f"policy_{self.epoch}"), trained)

    def log_values(self) -> dict[str, float]:
        """The last epoch's test keys, for the log line that follows it."""
        return dict(self.values)
