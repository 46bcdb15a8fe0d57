"""The DDPG agent HER trains (baselines' `her.ddpg.DDPG`): baselines' DDPG learner with HER's differences.

Each difference from `ddpg.ddpg_learner.DDPG` is one override below: networks of 3 x 256 ReLU over
concat(observation, goal) clipped to +-200 and normalized (std at least 0.01, clipped to +-5); Q targets clipped to
[-1/(1-gamma), 0] (rewards are -1 or 0); an action L2 penalty in the actor's loss; targets moved once per cycle
with polyak 0.95; exploration by Gaussian noise plus uniformly random actions; and observation statistics learnt
from each cycle's transitions with their hindsight goals, not from the raw steps.
"""

from __future__ import annotations

from typing import Any, Mapping

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.misc_util import seeded_generator
from baselines_tf2.ddpg import ddpg_learner
from baselines_tf2.her.config import HERConfig
from baselines_tf2.nn.tf_util import CompiledFunction
from baselines_tf2.off_policy.goals import describe_goal_space_problem, goal_sizes, is_goal_space
from baselines_tf2.off_policy.networks import copy_weights


def network_kwargs_of(config: HERConfig) -> dict[str, Any]:
    """The mlp torso of baselines' HER actor and critic (`layers` x `hidden`, ReLU)."""
    return {"num_layers": config.layers, "num_hidden": config.hidden, "activation": "relu"}


def with_noise(actions: np.ndarray, noise_eps: float, random_eps: float, rng: np.random.Generator) -> np.ndarray:
    """HER's exploration of actions in [-1, 1]: plus N(0, noise_eps), clipped, each row replaced by a uniform
    action with probability random_eps (float32)."""
    noisy = np.clip(actions + noise_eps * rng.standard_normal(actions.shape), -1.0, 1.0)
    replaced = rng.random(len(noisy)) < random_eps
    noisy[replaced] = rng.uniform(-1.0, 1.0, (int(replaced.sum()), noisy.shape[-1]))
    return noisy.astype(np.float32)


class DDPG(ddpg_learner.DDPG):
    """HER's actor, critic, targets and normalizer over a goal env's (observation, desired goal)."""

    alg = "her"
    targets_every_update = False  # once per cycle, in after_training

    def __init__(self, observation_space: Any, action_space: Any, network: str, network_kwargs: Mapping[str, Any],
                 config: HERConfig, seed: int | None = None) -> None:
        if not is_goal_space(observation_space):
            raise ValueError(f"her needs a goal-based env (Dict observations with observation, achieved_goal and "
                             f"desired_goal, e.g. FetchReach-v4): {describe_goal_space_problem(observation_space)}")
        if config.gamma is None:
            raise ValueError("HER's agent needs gamma resolved from the episode length (her.learn does this)")
        self.observation_clip = config.clip_obs
        # Q targets lie in [-1/(1-gamma), 0] when every reward is -1 or 0 (baselines' clip_return); set before the
        # parent traces the update
        self.return_bound = 1.0 / (1.0 - config.gamma) if config.clip_return else np.inf
        super().__init__(observation_space, action_space, network, network_kwargs, config, seed=seed)
        self.observation_size, self.goal_size = goal_sizes(observation_space)
        self.demonstrations_observed = False  # whether after_rollout has added the demonstrations to the statistics
        self.move_targets = CompiledFunction(self._move_targets, [])
        obs_spec = tf.TensorSpec([None, self.obs_size], tf.float32)
        self.greedy_q = CompiledFunction(self._greedy_q, [obs_spec])

    def build(self) -> None:
        """DDPG's networks, with baselines' HER initialization (her/util.py's nn): every dense layer, the output
        layers too, Xavier-uniform with zero biases, where DDPG's paper starts its output layers in +-3e-3."""
        super().build()
        glorot = keras.initializers.GlorotUniform()
        for model in (self.actor, self.critic):
            for variable in model.trainable_variables:
                if variable.path.endswith("/kernel"):
                    variable.assign(glorot(variable.shape))
                elif variable.path.endswith("/bias"):
                    variable.assign(tf.zeros_like(variable))
        copy_weights(self.target_actor, self.actor)
        copy_weights(self.target_critic, self.critic)

    def normalizer_settings(self) -> dict[str, float]:
        return {"min_variance": self.config.norm_eps ** 2, "clip": self.config.norm_clip}

    # ---- the update: DDPG's, with HER's target clip and action penalty ------------------------------------

    def _target_q(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """DDPG's target clipped to [-1/(1-gamma), 0] (baselines' clip_return with clip_pos_returns)."""
        return tf.clip_by_value(super()._target_q(batch), -self.return_bound, 0.0)

    def _actor_loss(self, obs0: tf.Tensor, actions: tf.Tensor, mean: tf.Tensor, std: tf.Tensor) -> tf.Tensor:
        """-Q(s, g, pi(s, g)) plus action_l2 times the mean squared action (actions in units of max_u); with
        demonstrations (bc_loss), both weighted by prm_loss_weight, plus aux_loss_weight times the summed squared
        distance of the actor's actions to the demonstrated ones on the batch's demonstration rows (the last
        demo_batch_size), only where the critic prefers the demonstrated action with q_filter (Nair et al. 2018)."""
        config = self.config
        policy_actions = self.actor(obs0)
        q_policy = self.critic([obs0, policy_actions]) * std + mean
        # action_l2 keeps the tanh out of saturation (Andrychowicz et al. 2017, app. A, where it is on pre-activations)
        loss = -tf.reduce_mean(q_policy) + config.action_l2 * tf.reduce_mean(tf.square(policy_actions))
        if not config.bc_loss:
            return loss
        demo_rows = tf.range(tf.shape(obs0)[0]) >= tf.shape(obs0)[0] - config.demo_batch_size
        if config.q_filter:  # clone only where Q(s, g, demonstrated action) > Q(s, g, pi(s, g))
            q_demo = self.critic([obs0, actions]) * std + mean
            demo_rows = tf.logical_and(demo_rows, q_demo > q_policy)
        squared = tf.reduce_sum(tf.square(policy_actions - actions), axis=1)
        # a sum over rows, not a mean, as baselines' cloning_loss_tf: its weight grows with demo_batch_size
        cloning = tf.reduce_sum(tf.where(demo_rows, squared, tf.zeros_like(squared)))
        return config.prm_loss_weight * loss + config.aux_loss_weight * cloning

    def _greedy_q(self, obs: tf.Tensor) -> tf.Tensor:
        """Q of the actor's actions for raw flat observations (the test rollouts' mean_Q)."""
        normalized = self.normalizer(obs)
        return self.critic([normalized, self.actor(normalized)])

    def get_actions(self, o: Any, ag: Any, g: Any, noise_eps: float = 0.0, random_eps: float = 0.0,
                    use_target_net: bool = False, compute_Q: bool = False) -> Any:
        """baselines' `policy.get_actions(o, ag, g, ...)`: the (target) actor's actions for observations `o`,
        achieved goals `ag` and goals `g`, in the env's units, with N(0, noise_eps) noise (clipped) and each row
        replaced by a uniform action with probability random_eps (seeded from NumPy's global generator); a
        batch of one comes back as one action; with compute_Q, `[actions, Q of the noiseless actions]`."""
        obs = {"observation": np.reshape(o, (-1, self.observation_size)),
               "achieved_goal": np.reshape(ag, (-1, self.goal_size)),
               "desired_goal": np.reshape(g, (-1, self.goal_size))}
        normalized = self.normalizer(self.obs_tensor(obs))
        actor, critic = (self.target_actor, self.target_critic) if use_target_net else (self.actor, self.critic)
        greedy = actor(normalized)
        actions = self.scale_actions(with_noise(greedy.numpy(), noise_eps, random_eps, seeded_generator()))
        if len(actions) == 1:
            actions = actions[0]
        return [actions, critic([normalized, greedy]).numpy().reshape(-1, 1)] if compute_Q else actions

    # ---- exploration and the cycle's hooks --------------------------------------------------------------

    def explore(self, obs: Any, rng: np.random.Generator) -> np.ndarray:
        """The actor's actions plus N(0, noise_eps), clipped, each replaced by a uniform one with probability
        random_eps (baselines' get_actions)."""
        actions = self.deterministic_actions(self.obs_tensor(obs)).numpy()
        return with_noise(actions, self.config.noise_eps, self.config.random_eps, rng)

    def observe(self, observations: Any) -> None:
        """Nothing: HER's statistics learn the cycle's transitions with their hindsight goals (after_rollout)."""

    def after_rollout(self, memory: Any, steps: int) -> None:
        """Add the cycle's transitions, relabelled as training will see them, to the observation statistics (as
        baselines' store_episode)."""
        demonstrations = getattr(memory, "demonstrations", None)
        if demonstrations is not None and not self.demonstrations_observed and self.timesteps == 0:
            # baselines' init_demo_buffer(update_stats=True): the demonstrations count in the statistics once (a
            # resumed run has them in its saved statistics already)
            self.normalizer.update(demonstrations.sample(demonstrations.nb_entries)["obs0"])
        self.demonstrations_observed = True
        count = steps * memory.num_envs
        try:
            batch = memory.sample(count, newest=steps)
        except ValueError:  # no episode of this cycle has ended yet (episodes longer than a cycle)
            return
        self.normalizer.update(batch["obs0"])

    def after_training(self) -> None:
        """target <- polyak target + (1 - polyak) main, once per cycle."""
        self.move_targets()

    def log_values(self) -> dict[str, float]:
        """baselines' stats_o and stats_g keys: the mean over dimensions of the statistics' means and stds."""
        mean, std = (value.numpy() for value in self.normalizer.mean_std())
        split = self.observation_size
        return {"stats_o/mean": float(np.mean(mean[:split])), "stats_o/std": float(np.mean(std[:split])),
                "stats_g/mean": float(np.mean(mean[split:])), "stats_g/std": float(np.mean(std[split:]))}
