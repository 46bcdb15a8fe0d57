"""DQN's compiled steps: epsilon-greedy acting, the (double-)Q TD update with Huber loss, and target sync."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.validation import observation_batch
from baselines_tf2.deepq.models import QNetwork
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.policies import encode_observation, raw_observation_spec
from baselines_tf2.nn.tf_util import CompiledFunction, apply_if_finite, clip_gradients_per_variable, float32_compute

GRAD_NORM_CLIPPING = 10.0  # baselines clips each variable's gradient to this norm


class TransitionBatch(NamedTuple):
    """A replay minibatch. `discounts` is gamma^k for a k-step return (0 where the episode ended within k)."""

    obs: tf.Tensor
    actions: tf.Tensor  # int64 [B]
    rewards: tf.Tensor  # float32 [B], discounted sum of the k rewards
    next_obs: tf.Tensor  # the observation k steps later
    discounts: tf.Tensor  # float32 [B]
    weights: tf.Tensor  # float32 [B], importance-sampling weights (ones for uniform replay)


def huber_loss(x: tf.Tensor, delta: float = 1.0) -> tf.Tensor:
    """0.5 x^2 for |x| <= delta, delta (|x| - 0.5 delta) beyond: quadratic near 0, linear in the tails."""
    absolute = tf.abs(x)
    # Mnih et al. 2015 clip the TD error's gradient to [-1, 1]; this is that clip written as a loss
    return tf.where(absolute <= delta, 0.5 * tf.square(x), delta * (absolute - 0.5 * delta))


def td_targets(
    rewards: tf.Tensor,
    discounts: tf.Tensor,
    next_q_target: tf.Tensor,
    next_q_online: tf.Tensor | None,
) -> tf.Tensor:
    """r + discount * Q_target(s', a*), a* = argmax of the online net (double Q, van Hasselt et al. 2016)
    or of the target."""
    if next_q_online is None:
        best_next = tf.reduce_max(next_q_target, axis=1)
    else:
        best_action = tf.argmax(next_q_online, axis=1)
        best_next = tf.gather(next_q_target, best_action, axis=1, batch_dims=1)
    return rewards + discounts * best_next


class DQNModel:
    """Online and target Q-networks, Adam (epsilon 1e-8 as baselines) unless another optimizer is given,
    compiled `act` and `train_step`."""

    def __init__(
        self,
        observation_space: gymnasium.Space,
        q_network: QNetwork,
        target_network: QNetwork,
        *,
        lr: float,
        double_q: bool,
        grad_norm_clipping: float | None = GRAD_NORM_CLIPPING,
        optimizer: keras.optimizers.Optimizer | None = None,
        seed: int | None = None,
    ) -> None:
        self.observation_space = observation_space
        self.q_network = q_network
        self.target_network = target_network
        self.double_q = double_q
        self.n_actions = int(q_network.n_actions)
        self.rng = np.random.default_rng(seed)  # exploration draws
        self.grad_norm_clipping = grad_norm_clipping
        self.optimizer = optimizer or FusedAdam(learning_rate=lr, epsilon=1e-8)
        self.optimizer.build(q_network.trainable_variables)
        obs_spec = raw_observation_spec(observation_space)
        self.obs_dtype = obs_spec.dtype.as_numpy_dtype
        self.obs_shape = tuple(obs_spec.shape[1:])
        batch_spec = TransitionBatch(
            obs=obs_spec,
            actions=tf.TensorSpec([None], tf.int64),
            rewards=tf.TensorSpec([None], tf.float32),
            next_obs=obs_spec,
            discounts=tf.TensorSpec([None], tf.float32),
            weights=tf.TensorSpec([None], tf.float32),
        )
        self.train_step = CompiledFunction(self._train_step, [batch_spec])
        with float32_compute(q_network):  # acting on one frame: float32 is faster than casting weights to bf16
            self.greedy_actions = CompiledFunction(self._greedy_actions, [obs_spec])
            self.q_values = CompiledFunction(self._q_values, [obs_spec])
        self.update_target()

    def obs_tensor(self, obs: Any) -> tf.Tensor:
        """A batch of raw observations (arrays or LazyFrames) as the tensor the compiled steps take."""
        return tf.convert_to_tensor(np.asarray(obs).astype(self.obs_dtype, copy=False))

    def _q_values(self, obs: tf.Tensor) -> tf.Tensor:
        return self.q_network(encode_observation(self.observation_space, obs))

    def _greedy_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return tf.argmax(self._q_values(obs), axis=1)

    def act(self, obs: Any, epsilon: float, rng: np.random.Generator | None = None) -> np.ndarray:
        """Greedy actions for a batch of raw observations, each replaced by a uniform random one with probability
        `epsilon`, drawn from `rng` (training passes the run's; default this model's own). The network runs only if
        some observation acts greedily: early in training almost every step explores, and skipping the forward pass
        there is most of the speed of the exploration phase. One observation without its batch axis (as baselines'
        act also took) is a batch of one."""
        rng = rng or self.rng
        obs = observation_batch(obs, self.obs_shape, "a Q-network")
        batch = len(obs)
        explore = rng.random(batch) < epsilon
        actions = rng.integers(self.n_actions, size=batch)
        if explore.all():
            return actions
        return np.where(explore, actions, self.greedy_actions(self.obs_tensor(obs)).numpy())

    def loss(self, batch: TransitionBatch) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(weighted mean Huber loss, TD errors, Q of the taken actions); targets carry no gradient."""
        q = self._q_values(batch.obs)
        chosen_q = tf.gather(q, batch.actions, axis=1, batch_dims=1)
        next_encoded = encode_observation(self.observation_space, batch.next_obs)
        next_q_target = self.target_network(next_encoded)
        next_q_online = self.q_network(next_encoded) if self.double_q else None
        # semi-gradient TD toward a fixed label (Mnih et al. 2015), as in baselines' build_train
        targets = tf.stop_gradient(td_targets(batch.rewards, batch.discounts, next_q_target, next_q_online))
        td_errors = chosen_q - targets
        # the weights undo prioritized replay's sampling bias (Schaul et al. 2016, sec. 3.4)
        return tf.reduce_mean(batch.weights * huber_loss(td_errors)), td_errors, chosen_q

    def _train_step(self, batch: TransitionBatch) -> dict[str, tf.Tensor]:
        variables = self.q_network.trainable_variables
        with tf.GradientTape() as tape:
            loss, td_errors, chosen_q = self.loss(batch)
        gradients = tape.gradient(loss, variables)
        if self.grad_norm_clipping is None:
            grad_norm = tf.linalg.global_norm(gradients)
        else:
            gradients, grad_norm = clip_gradients_per_variable(gradients, self.grad_norm_clipping)
        skipped = apply_if_finite(self.optimizer, gradients, variables, loss, grad_norm)
        return {"loss": loss, "td_errors": td_errors, "mean_q": tf.reduce_mean(chosen_q), "grad_norm": grad_norm,
                "skipped": skipped}

    def update_target(self) -> None:
        """Copy the online network's weights into the target network."""
        for target, online in zip(self.target_network.weights, self.q_network.weights):
            target.assign(online)
