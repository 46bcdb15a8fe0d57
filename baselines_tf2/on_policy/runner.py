"""Experience collection for the on-policy learners (PPO2, A2C): NumPy only, returns from GAE.

A2C's n-step returns are GAE with lambda = 1, so both learners share this runner.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from baselines_tf2.common.validation import require_fits_in_memory
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED
from baselines_tf2.training.stop_signals import StopRequest


class ActingModel(Protocol):
    """What the runner needs of a model: baselines' `step` and `value` (NumPy in, NumPy out)."""

    @property
    def initial_state(self) -> np.ndarray | None: ...

    def step(self, obs: np.ndarray, S: np.ndarray | None = None, M: np.ndarray | None = None) -> tuple[Any, ...]: ...

    def value(self, obs: np.ndarray, S: np.ndarray | None = None, M: np.ndarray | None = None) -> np.ndarray: ...




class Rollout(NamedTuple):
    """`nsteps` x `nenvs` of experience, flattened env-major (each env's steps contiguous, for recurrent batches)."""

    obs: np.ndarray  # [nenvs * nsteps, *obs_shape], the env's dtype (uint8 for Atari)
    returns: np.ndarray  # float32: advantages + values
    masks: np.ndarray  # float32: 1 where the observation starts a new episode (baselines' dones)
    actions: np.ndarray
    values: np.ndarray  # float32: V(s) when collected
    neglogpacs: np.ndarray  # float32: -log pi_old(a|s)
    states: np.ndarray | None  # recurrent state of each env at the rollout's start, [nenvs, state_size]
    episodes: list[dict[str, float]]  # info['episode'] of the episodes that ended during the rollout
    episode_ends: int = 0  # episodes that ended during the rollout, monitored or not


def gae_advantages(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    last_values: np.ndarray,
    last_dones: np.ndarray,
    *,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalized advantage estimates (Schulman et al. 2016, eq. 16), shape [nsteps, nenvs].

    `dones[t]` marks that the observation at step t starts a new episode (baselines' convention), so the
    bootstrap from values[t + 1] is cut when dones[t + 1] is set; `last_*` describe the step after the rollout.
    """
    nsteps = len(rewards)
    advantages = np.zeros_like(rewards, dtype=np.float32)
    running = np.zeros_like(last_values, dtype=np.float32)
    for t in reversed(range(nsteps)):
        if t == nsteps - 1:
            next_nonterminal = 1.0 - last_dones
            next_values = last_values
        else:
            next_nonterminal = 1.0 - dones[t + 1]
            next_values = values[t + 1]
        delta = rewards[t] + gamma * next_values * next_nonterminal - values[t]
        running = delta + gamma * lam * next_nonterminal * running
        advantages[t] = running
    return advantages


def env_major(array: np.ndarray) -> np.ndarray:
    """[nsteps, nenvs, ...] -> [nenvs * nsteps, ...]."""
    return array.swapaxes(0, 1).reshape(array.shape[0] * array.shape[1], *array.shape[2:])


class Runner:
    """Steps a VecEnv with the model for `nsteps` and turns the experience into a `Rollout`.

    An episode cut by a time limit is not a real end: its last reward gets gamma * V(terminal observation)
    added, so the return is bootstrapped through the truncation while the advantage chain is still cut there.
    """

    def __init__(self, *, env: VecEnv, model: ActingModel, nsteps: int, gamma: float, lam: float) -> None:
        self.env = env
        self.model = model
        self.nsteps = nsteps
        self.gamma = gamma
        self.lam = lam
        self.nenvs = env.num_envs
        self.obs = env.reset()
        self.states = model.initial_state
        self.dones = np.zeros(self.nenvs, dtype=np.float32)
        require_fits_in_memory(f"a rollout of {nsteps:,} steps x {self.nenvs} envs (nsteps, or trpo's "
                               "timesteps_per_batch)", (nsteps, *self.obs.shape), self.obs.dtype.itemsize)
        self.obs_batches = np.zeros((nsteps, *self.obs.shape), dtype=self.obs.dtype)

    def run(self, stop: StopRequest | None = None) -> Rollout | None:
        """Collect one rollout; None if `stop` was requested part-way (the partial rollout is dropped)."""
        rewards = np.zeros((self.nsteps, self.nenvs), dtype=np.float32)
        values = np.zeros((self.nsteps, self.nenvs), dtype=np.float32)
        neglogpacs = np.zeros((self.nsteps, self.nenvs), dtype=np.float32)
        dones = np.zeros((self.nsteps, self.nenvs), dtype=np.float32)
        actions: list[np.ndarray] = []
        initial_states = self.states
        episodes: list[dict[str, float]] = []
        # our learners offer a faster snapshot for the rollout; any other model with step/value (baselines') acts itself
        snapshot = getattr(self.model, "rollout_actor", None)
        actor: ActingModel = self.model if snapshot is None else snapshot(self.nsteps, self.nenvs)
        for t in range(self.nsteps):
            if stop is not None and stop.requested:
                return None
            step_actions, values[t], self.states, neglogpacs[t] = actor.step(self.obs, S=self.states, M=self.dones)
            self.obs_batches[t] = self.obs
            actions.append(step_actions)
            dones[t] = self.dones
            self.obs, step_rewards, step_dones, infos = self.env.step(step_actions)
            rewards[t] = step_rewards + self._truncation_bootstrap(actor, infos)
            self.dones = step_dones.astype(np.float32)
            episodes.extend(info["episode"] for info in infos if "episode" in info)
        last_values = actor.value(self.obs, S=self.states, M=self.dones)
        advantages = gae_advantages(
            rewards, values, dones, last_values, self.dones, gamma=self.gamma, lam=self.lam
        )
        return Rollout(
            obs=env_major(self.obs_batches),
            returns=env_major(advantages + values),
            masks=env_major(dones),
            actions=env_major(np.asarray(actions)),
            values=env_major(values),
            neglogpacs=env_major(neglogpacs),
            states=initial_states,
            episodes=episodes,
            episode_ends=int(dones[1:].sum() + self.dones.sum()),
        )

    def _truncation_bootstrap(self, actor: ActingModel, infos: list[dict[str, Any]]) -> np.ndarray:
        """gamma * V(terminal observation) for envs whose episode a time limit cut this step, else 0."""
        bonus = np.zeros(self.nenvs, dtype=np.float32)
        truncated = [i for i, info in enumerate(infos) if info.get(TRUNCATED) and TERMINAL_OBSERVATION in info]
        if truncated:
            terminal_obs = np.stack([np.asarray(infos[i][TERMINAL_OBSERVATION]) for i in truncated])
            states = None if self.states is None else self.states[truncated]
            masks = np.zeros(len(truncated), dtype=np.float32)
            bonus[truncated] = self.gamma * actor.value(terminal_obs, S=states, M=masks)
        return bonus
