"""PPO2's loss (Schulman et al. 2017, eq. 9 with baselines' value clipping) and its compiled minibatch update."""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.learner import Minibatch, OnPolicyLearner


class LossTerms(NamedTuple):
    """The scalars PPO2 optimises and reports, under baselines' names."""

    policy_loss: tf.Tensor
    value_loss: tf.Tensor
    policy_entropy: tf.Tensor
    approxkl: tf.Tensor
    clipfrac: tf.Tensor


def normalized_advantages(returns: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """(A - mean A) / (std A + 1e-8) over the minibatch, with A = returns - values (baselines)."""
    advantages = returns - values
    mean, variance = tf.nn.moments(advantages, axes=[0])
    return (advantages - mean) / (tf.sqrt(variance) + 1e-8)


def ppo_losses(
    neglogpac: tf.Tensor, entropy: tf.Tensor, vpred: tf.Tensor, batch: Minibatch, cliprange: tf.Tensor
) -> LossTerms:
    """Clipped surrogate, clipped value loss, entropy, and the diagnostics approxkl and clipfrac.

    `neglogpac`, `entropy`, `vpred` come from the current policy on `batch`; `batch.values` and
    `batch.neglogpacs` are the ones recorded when the rollout was collected.
    """
    advantages = normalized_advantages(batch.returns, batch.values)
    vpred_clipped = batch.values + tf.clip_by_value(vpred - batch.values, -cliprange, cliprange)
    value_loss = 0.5 * tf.reduce_mean(
        tf.maximum(tf.square(vpred - batch.returns), tf.square(vpred_clipped - batch.returns))
    )
    policy_loss, approxkl, clipfrac = clipped_surrogate(neglogpac, batch.neglogpacs, advantages, cliprange)
    return LossTerms(policy_loss, value_loss, tf.reduce_mean(entropy), approxkl, clipfrac)


def clipped_surrogate(neglogpac: tf.Tensor, old_neglogpac: tf.Tensor, advantages: tf.Tensor,
                      cliprange: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """PPO's pessimistic surrogate, to minimise: mean(max(-A r, -A clip(r, 1 -+ cliprange))), r = pi / pi_old;
    with the diagnostics approxkl and clipfrac (PPO2 and PPO1 share it)."""
    ratio = tf.exp(old_neglogpac - neglogpac)
    policy_loss = tf.reduce_mean(
        tf.maximum(-advantages * ratio, -advantages * tf.clip_by_value(ratio, 1.0 - cliprange, 1.0 + cliprange))
    )
    approxkl = 0.5 * tf.reduce_mean(tf.square(neglogpac - old_neglogpac))
    clipfrac = tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > cliprange, tf.float32))
    return policy_loss, approxkl, clipfrac


class PPO2Model(OnPolicyLearner):
    """The policy, Adam with epsilon 1e-5 (baselines; Keras' default is 1e-7) and the compiled PPO update.

    The clip range is a variable the compiled step reads, assigned before each update (`set_cliprange`, which
    ppo2.learn calls with `cliprange(frac)`), so annealing it never retraces the step.
    """

    alg = "ppo2"
    loss_terms: type[NamedTuple] = LossTerms  # (PPO1's model reports its own)

    def __init__(
        self, policy: PolicyWithValue, *, ent_coef: float, vf_coef: float, max_grad_norm: float | None,
        adam_epsilon: float = 1e-5,
    ) -> None:
        optimizer = FusedAdam(learning_rate=3e-4, epsilon=adam_epsilon)
        self.cliprange = tf.Variable(0.2, trainable=False, dtype=tf.float32, name="cliprange")
        super().__init__(policy, optimizer, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm)

    def set_cliprange(self, cliprange: float) -> None:
        """Assign the clip range the next steps use (same graph, no retrace)."""
        self.cliprange.assign(float(cliprange))

    def train(self, lr: float, cliprange: float, obs: Any, returns: Any, masks: Any, actions: Any, values: Any,
              neglogpacs: Any, states: Any = None) -> list[float]:
        """baselines' `Model.train`: one Adam step on one minibatch (advantages returns - values, normalized
        over it); [policy_loss, value_loss, policy_entropy, approxkl, clipfrac] (`loss_names`)."""
        self.set_cliprange(cliprange)
        return self.train_on_arrays(lr, obs, returns, masks, actions, values, neglogpacs, states)

    def loss(self, batch: Minibatch) -> tuple[tf.Tensor, LossTerms]:
        """pg_loss - ent_coef * entropy + vf_coef * vf_loss, with the clip range last assigned."""
        neglogpac, entropy, vpred = self.policy.evaluate(batch.obs, batch.actions, batch.masks, batch.states)
        terms = ppo_losses(neglogpac, entropy, vpred, batch, self.cliprange)
        total = terms.policy_loss - self.ent_coef * terms.policy_entropy + self.vf_coef * terms.value_loss
        return total, terms
