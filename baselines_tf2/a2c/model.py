"""A2C's loss (Mnih et al. 2016) and TF1-style RMSprop, on the shared on-policy update step."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.learner import Minibatch, OnPolicyLearner


class TF1RMSprop(keras.optimizers.RMSprop):
    """RMSprop as TF1's RMSPropOptimizer ran it for baselines: the mean-square slot starts at ones, not zeros.

    Keras' RMSprop already puts epsilon inside the square root, as TF1 did. Starting the slot at zero instead
    makes the first updates lr * g / |g|-sized steps, far larger than baselines' A2C ever took.
    """

    def build(self, var_list: list[keras.Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        for velocity in self._velocities:
            velocity.assign(tf.ones_like(velocity))


class LossTerms(NamedTuple):
    """The scalars A2C optimises and reports, under baselines' names."""

    policy_loss: tf.Tensor
    value_loss: tf.Tensor
    policy_entropy: tf.Tensor


def a2c_losses(neglogpac: tf.Tensor, entropy: tf.Tensor, vpred: tf.Tensor, batch: Minibatch) -> LossTerms:
    """Policy gradient with advantages R - V (not normalised), squared value error, mean entropy."""
    advantages = batch.returns - batch.values
    policy_loss = tf.reduce_mean(advantages * neglogpac)
    value_loss = tf.reduce_mean(tf.square(vpred - batch.returns))
    return LossTerms(policy_loss, value_loss, tf.reduce_mean(entropy))


class A2CModel(OnPolicyLearner):
    """The policy, TF1-style RMSprop and the compiled A2C update (one per rollout)."""

    alg = "a2c"
    loss_terms = LossTerms

    def __init__(
        self,
        policy: PolicyWithValue,
        *,
        ent_coef: float,
        vf_coef: float,
        max_grad_norm: float | None,
        alpha: float,
        epsilon: float,
    ) -> None:
        optimizer = TF1RMSprop(learning_rate=7e-4, rho=alpha, epsilon=epsilon)
        super().__init__(policy, optimizer, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm)

    def train(self, obs: Any, states: Any, rewards: Any, masks: Any, actions: Any, values: Any) -> list[float]:
        """baselines' `Model.train`: one RMSprop step on a rollout's arrays (`rewards` are the discounted returns)
        at the optimizer's current learning rate (learn() anneals it; baselines' model kept its own schedule);
        [policy_loss, value_loss, policy_entropy]."""
        lr = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        no_neglogpacs = np.zeros(len(rewards), np.float32)  # A2C's loss does not read them
        return self.train_on_arrays(lr, obs, rewards, masks, actions, values, no_neglogpacs, states)

    def loss(self, batch: Minibatch) -> tuple[tf.Tensor, LossTerms]:
        """pg_loss - ent_coef * entropy + vf_coef * vf_loss."""
        neglogpac, entropy, vpred = self.policy.evaluate(batch.obs, batch.actions, batch.masks, batch.states)
        terms = a2c_losses(neglogpac, entropy, vpred, batch)
        total = terms.policy_loss - self.ent_coef * terms.policy_entropy + self.vf_coef * terms.value_loss
        return total, terms
