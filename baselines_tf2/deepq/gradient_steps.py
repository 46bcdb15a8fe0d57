"""DQN's gradient steps on replayed batches, run in line or in one background thread, with one lifecycle.

`train(t)` draws a batch's slots and takes a step on them; `add(transition)` stores a played transition;
`finish()` waits for a step in flight and takes in its results; `close()` ends the thread. In the background, a
step runs while the next `train_freq` env steps are played: the batches, priority updates and replay additions
happen in the same order as in line (transitions played meanwhile are added once the step's priorities are in), so
only the weights those env steps act with differ.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from baselines_tf2.deepq.deepq_learner import DQNModel, TransitionBatch
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer
from baselines_tf2.training.nonfinite import NonFiniteGuard

Transition = tuple[Any, Any, float, Any, bool]  # (obs, action, reward, next obs, terminal)


class GradientSteps:
    """Replay sampling, the compiled train step, priority updates and the non-finite guard, in line or in a thread."""

    def __init__(self, model: DQNModel, replay: ReplayBuffer, *, batch_size: int, n_step: int, gamma: float,
                 prioritized_replay_eps: float, beta: Callable[[int], float] | None, nonfinite: NonFiniteGuard,
                 in_background: bool) -> None:
        self.model = model
        self.replay = replay
        self.batch_size = batch_size
        self.n_step = n_step
        self.gamma = gamma
        self.prioritized_replay_eps = prioritized_replay_eps
        self.beta = beta  # prioritized replay's importance exponent by step; None for uniform replay
        self.nonfinite = nonfinite
        self.steps_taken = 0
        self.last_stats: dict[str, float] = {}
        self._thread = ThreadPoolExecutor(1, "dqn-training") if in_background else None
        self._in_flight: tuple[Future[dict[str, tf.Tensor]], np.ndarray] | None = None  # (step, its slots)
        self._deferred: list[Transition] = []  # transitions played while a step was in flight

    def add(self, transition: Transition) -> None:
        """Store a transition, or keep it until the step in flight has updated its priorities."""
        if self._in_flight is None:
            self.replay.add(*transition)
        else:
            self._deferred.append(transition)

    def train(self, t: int) -> None:
        """One gradient step on a batch drawn now: taken now, or in the thread while the next env steps play."""
        self.finish()
        if self.beta is not None:
            assert isinstance(self.replay, PrioritizedReplayBuffer)
            slots, weights = self.replay.sample_indices(self.batch_size, beta=self.beta(t))
        else:
            slots, weights = self.replay.sample_indices(self.batch_size), np.ones(self.batch_size, np.float32)
        if self._thread is None:
            self._take_results(self._step_on(slots, weights), slots)
        else:
            self._in_flight = (self._thread.submit(self._step_on, slots, weights), slots)

    def finish(self) -> None:
        """Wait for the step in flight, if any, take in its results and store the transitions it held back."""
        if self._in_flight is None:
            return
        future, slots = self._in_flight
        self._in_flight = None
        self._take_results(future.result(), slots)
        for transition in self._deferred:
            self.replay.add(*transition)
        self._deferred.clear()

    def close(self) -> None:
        """Finish and end the thread (nothing in flight is lost); safe to call twice."""
        try:
            self.finish()
        finally:
            if self._thread is not None:
                self._thread.shutdown(wait=True)
                self._thread = None

    def _step_on(self, slots: np.ndarray, weights: np.ndarray) -> dict[str, tf.Tensor]:
        """Gather the transitions in `slots` (n-step returns) and take one gradient step on them."""
        obs, actions, returns, next_obs, discounts = self.replay.n_step_batch(slots, self.n_step, self.gamma)
        batch = TransitionBatch(
            obs=self.model.obs_tensor(obs), actions=tf.convert_to_tensor(actions.astype(np.int64)),
            rewards=tf.convert_to_tensor(returns), next_obs=self.model.obs_tensor(next_obs),
            discounts=tf.convert_to_tensor(discounts), weights=tf.convert_to_tensor(weights),
        )
        return self.model.train_step(batch)

    def _take_results(self, result: dict[str, tf.Tensor], slots: np.ndarray) -> None:
        self.steps_taken += 1
        skipped = bool(result["skipped"])
        self.nonfinite.record(skipped, self.steps_taken,
                              {"loss": float(result["loss"]), "gradient norm": float(result["grad_norm"])})
        if skipped:
            return
        if self.beta is not None:
            assert isinstance(self.replay, PrioritizedReplayBuffer)
            priorities = np.abs(result["td_errors"].numpy()) + self.prioritized_replay_eps
            self.replay.update_priorities(slots, priorities)
        self.last_stats = {"loss": float(result["loss"]), "mean_q": float(result["mean_q"]),
                           "nonfinite updates skipped": self.nonfinite.total_skipped}
