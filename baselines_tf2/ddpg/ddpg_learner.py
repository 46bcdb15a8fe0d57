"""DDPG's networks and compiled update (Lillicrap et al. 2016, as baselines' ddpg_learner): a deterministic actor,
one critic, Polyak-averaged targets, observation normalization, optional Pop-Art return normalization, and
action or adaptive parameter noise (Plappert et al. 2018)."""

from __future__ import annotations

from typing import Any, Mapping

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.ddpg.noise import ActionNoise, AdaptiveParamNoiseSpec, parse_noise_type
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.tf_util import CompiledFunction, apply_if_finite
from baselines_tf2.off_policy.agent import OffPolicyAgent, batch_signature
from baselines_tf2.off_policy.networks import build_actor, build_critic, copy_weights, l2_penalty, soft_update

MIN_RETURN_VARIANCE = 1e-2  # the return statistics' variance floor, as the observation statistics'


def clipped_gradients(gradients: list[tf.Tensor], clip_norm: float | None) -> tuple[list[tf.Tensor], tf.Tensor]:
    """(gradients rescaled to a global norm <= clip_norm when given (baselines' flatgrad), the norm before)."""
    norm = tf.linalg.global_norm(gradients)
    if clip_norm is None:
        return gradients, norm
    return tf.clip_by_global_norm(gradients, clip_norm, use_norm=norm)[0], norm


class DDPG(OffPolicyAgent):
    """baselines' DDPG agent, trainable in one compiled step and saved as data."""

    alg = "ddpg"

    def __init__(self, observation_space: Any, action_space: Any, network: str, network_kwargs: Mapping[str, Any],
                 config: Any, seed: int | None = None) -> None:
        self.seed = seed
        super().__init__(observation_space, action_space, network, network_kwargs, config)

    def build(self) -> None:
        config = self.config
        sizes = (self.obs_size, self.nb_actions, self.network, self.network_kwargs)
        self.actor = build_actor(*sizes, name="actor")
        self.target_actor = build_actor(*sizes, name="target_actor")
        self.critic = build_critic(*sizes, name="critic")
        self.target_critic = build_critic(*sizes, name="target_critic")
        copy_weights(self.target_actor, self.actor)
        copy_weights(self.target_critic, self.critic)
        self.actor_optimizer = FusedAdam(learning_rate=config.actor_lr, epsilon=1e-8)
        self.critic_optimizer = FusedAdam(learning_rate=config.critic_lr, epsilon=1e-8)
        self.actor_optimizer.build(self.actor.trainable_variables)
        self.critic_optimizer.build(self.critic.trainable_variables)
        # Return statistics (Pop-Art): as baselines, they move only with popart; otherwise they stay mean 0, var 1.
        self.return_moments = tf.Variable([0.0, 1.0, 1e-4], trainable=False, name="ret_rms")  # mean, var, count
        self.generator = tf.random.Generator.from_seed(self.seed if self.seed is not None else
                                                       np.random.randint(2**31 - 1))
        self.action_noise: ActionNoise | None
        self.param_noise: AdaptiveParamNoiseSpec | None
        self.noise_rng = np.random.default_rng(self.seed)  # action noise draws; saved with the noise's state
        self.action_noise, self.param_noise = parse_noise_type(config.noise_type, self.nb_actions, self.noise_rng)
        obs_spec = tf.TensorSpec([None, self.obs_size], tf.float32)
        if self.param_noise is not None:
            self.perturbed_actor = build_actor(*sizes, name="perturbed_actor")
            self.adaptive_actor = build_actor(*sizes, name="adaptive_actor")
            self.perturbed_actions = CompiledFunction(self._perturbed_actions, [obs_spec])
            stddev = tf.TensorSpec([], tf.float32)
            self.perturb_actor = CompiledFunction(self._perturb_actor, [stddev])
            self.adaptive_distance = CompiledFunction(self._adaptive_distance, [obs_spec, stddev])
            self.perturb_actor(tf.constant(self.param_noise.current_stddev, tf.float32))
        self._train = CompiledFunction(self._train_step, [batch_signature(self.obs_size, self.nb_actions)])

    def variable_groups(self) -> dict[str, list[tf.Variable]]:
        groups = {
            "policy": self.actor.weights, "critic": self.critic.weights,
            "target_actor": self.target_actor.weights, "target_critic": self.target_critic.weights,
            "optimizer_actor": self.actor_optimizer.variables, "optimizer_critic": self.critic_optimizer.variables,
            "ret_rms": [self.return_moments], "rng": [self.generator.state],
        }
        if self.param_noise is not None:  # the perturbation exploring now, so a resumed run explores alike
            groups["perturbed_actor"] = self.perturbed_actor.weights
        return groups

    # ---- acting and exploration -----------------------------------------------------------------------

    def _deterministic_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self.actor(self.normalizer(obs))

    def _perturbed_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self.perturbed_actor(self.normalizer(obs))

    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The (perturbed) actor's actions plus action noise, as baselines' `step(apply_noise=True)`."""
        tensor = self.obs_tensor(obs)
        actions = (self.perturbed_actions if self.param_noise is not None else self.deterministic_actions)(tensor)
        actions = actions.numpy()
        if self.action_noise is not None:
            actions = actions + np.stack([self.action_noise() for _ in range(len(actions))]).astype(np.float32)
        return np.clip(actions, -1.0, 1.0)

    def _perturb(self, target: keras.Model, stddev: tf.Tensor) -> None:
        """target <- actor + N(0, stddev) on the trainable weights but layer norms' (baselines' perturbable_vars)."""
        for variable, perturbed in zip(self.actor.weights, target.weights):
            if variable.trainable and "layer_norm" not in variable.path and "_ln" not in variable.path:
                perturbed.assign(variable + self.generator.normal(tf.shape(variable), stddev=stddev))
            else:
                perturbed.assign(variable)

    def _perturb_actor(self, stddev: tf.Tensor) -> tf.Tensor:
        self._perturb(self.perturbed_actor, stddev)
        return stddev

    def _adaptive_distance(self, obs: tf.Tensor, stddev: tf.Tensor) -> tf.Tensor:
        """RMS distance between the actor's actions and those of a freshly perturbed copy."""
        self._perturb(self.adaptive_actor, stddev)
        normalized = self.normalizer(obs)
        return tf.sqrt(tf.reduce_mean(tf.square(self.actor(normalized) - self.adaptive_actor(normalized))))

    def reset(self) -> None:
        """baselines' agent.reset: restart the action noise and draw a new perturbation of the actor."""
        if self.action_noise is not None:
            self.action_noise.reset()
        if self.param_noise is not None:
            self.perturb_actor(tf.constant(self.param_noise.current_stddev, tf.float32))

    def after_episode(self, env_index: int, num_envs: int) -> None:
        if num_envs == 1:  # baselines resets at each episode end with one env, at each rollout with several
            self.reset()

    def before_rollout(self, num_envs: int) -> None:
        if num_envs > 1:
            self.reset()

    def maybe_adapt(self, train_step: int, memory: Any) -> dict[str, float]:
        """Every `param_noise_adaption_interval` gradient steps of an iteration, adapt the parameter noise."""
        if self.param_noise is None or train_step % self.config.param_noise_adaption_interval != 0:
            return {}
        batch = memory.sample(self.config.batch_size)
        stddev = tf.constant(self.param_noise.current_stddev, tf.float32)
        distance = float(self.adaptive_distance(self.obs_tensor(batch["obs0"]), stddev))
        self.param_noise.adapt(distance)
        return {"train/param_noise_distance": distance, "train/param_noise_stddev": self.param_noise.current_stddev}

    def noise_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": self.noise_rng.bit_generator.state}
        if self.param_noise is not None:
            state["param_noise_stddev"] = self.param_noise.current_stddev
        if self.action_noise is not None:
            state["action_noise"] = self.action_noise.state()
        return state

    def set_noise_state(self, state: Mapping[str, Any]) -> None:
        """The noise's generator, adapted std and running value (the perturbed actor's weights load with the
        other variables)."""
        if "rng" in state:
            self.noise_rng.bit_generator.state = state["rng"]
        if self.param_noise is not None and "param_noise_stddev" in state:
            self.param_noise.current_stddev = float(state["param_noise_stddev"])
        if self.action_noise is not None and state.get("action_noise"):
            self.action_noise.set_state(list(state["action_noise"]))

    # ---- the update -------------------------------------------------------------------------------------

    def train_step(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        return self._train(batch)

    def _return_mean_std(self) -> tuple[tf.Tensor, tf.Tensor]:
        return self.return_moments[0], tf.sqrt(tf.maximum(self.return_moments[1], MIN_RETURN_VARIANCE))

    def _popart(self, target_q: tf.Tensor) -> None:
        """Pop-Art (van Hasselt et al. 2016): add the targets to the return statistics, then rescale both critics'
        output layers so their denormalized outputs are unchanged."""
        old_mean, old_std = self._return_mean_std()
        mean, var, count = self.return_moments[0], self.return_moments[1], self.return_moments[2]
        batch_mean, batch_var = tf.nn.moments(target_q, axes=[0])
        batch_count = tf.cast(tf.shape(target_q)[0], tf.float32)
        total = count + batch_count
        delta = batch_mean - mean
        new_mean = mean + delta * batch_count / total
        new_var = (var * count + batch_var * batch_count + tf.square(delta) * count * batch_count / total) / total
        self.return_moments.assign(tf.stack([new_mean, new_var, total]))
        mean, std = self._return_mean_std()
        for critic in (self.critic, self.target_critic):
            kernel, bias = critic.get_layer("output").weights
            kernel.assign(kernel * old_std / std)
            bias.assign((bias * old_std + old_mean - mean) / std)

    def _train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        config = self.config
        obs0, obs1 = self.normalizer(batch["obs0"]), self.normalizer(batch["obs1"])
        rewards, terminals = batch["rewards"][:, 0], batch["terminals1"][:, 0]
        mean, std = self._return_mean_std()
        next_q = self.target_critic([obs1, self.target_actor(obs1)]) * std + mean
        target_q = tf.stop_gradient(rewards + (1.0 - terminals) * config.gamma * next_q)
        if config.normalize_returns and config.popart:
            self._popart(target_q)
            mean, std = self._return_mean_std()
        normalized_target = (target_q - mean) / std
        with tf.GradientTape() as tape:
            critic_loss = tf.reduce_mean(tf.square(self.critic([obs0, batch["actions"]]) - normalized_target))
            if config.critic_l2_reg > 0:
                critic_loss += l2_penalty(self.critic, config.critic_l2_reg)
        critic_gradients, critic_norm = clipped_gradients(
            tape.gradient(critic_loss, self.critic.trainable_variables), config.clip_norm)
        with tf.GradientTape() as tape:
            actor_loss = -tf.reduce_mean(self.critic([obs0, self.actor(obs0)]) * std + mean)
        actor_gradients, actor_norm = clipped_gradients(
            tape.gradient(actor_loss, self.actor.trainable_variables), config.clip_norm)
        skipped_critic = apply_if_finite(self.critic_optimizer, critic_gradients, self.critic.trainable_variables,
                                         critic_loss, critic_norm)
        skipped_actor = apply_if_finite(self.actor_optimizer, actor_gradients, self.actor.trainable_variables,
                                        actor_loss, actor_norm)
        soft_update(self.target_actor.weights, self.actor.weights, config.tau)
        soft_update(self.target_critic.weights, self.critic.weights, config.tau)
        return {"loss_critic": critic_loss, "loss_actor": actor_loss, "reference_Q_mean": tf.reduce_mean(target_q),
                "skipped": tf.maximum(skipped_critic, skipped_actor)}
