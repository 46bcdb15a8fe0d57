"""DDPG's networks and compiled update (Lillicrap et al. 2016, as baselines' ddpg_learner): a deterministic actor,
one critic, Polyak-averaged targets, observation normalization, optional Pop-Art return normalization, and
action or adaptive parameter noise (Plappert et al. 2018).

Under MPI (`mpi_util.world()` has several ranks) the ranks train data-parallel, as baselines' DDPG with MpiAdam:
every rank starts from rank 0's variables, each update applies the critic and actor gradients averaged over the
ranks' batches, the observation (and Pop-Art return) statistics merge every rank's data, and the parameter noise
adapts to the distance averaged over ranks; each rank keeps its own replay memory and exploration noise.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.ddpg.noise import ActionNoise, AdaptiveParamNoiseSpec, parse_noise_type
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.tf_util import (
    CompiledFunction,
    apply_if_finite,
    assign_variables,
    clip_gradients_per_variable,
    flat_concat,
    flat_size,
    split_flat,
)
from baselines_tf2.off_policy.agent import OffPolicyAgent, batch_signature
from baselines_tf2.off_policy.networks import (
    build_actor,
    build_critic,
    copy_weights,
    is_perturbable,
    l2_penalty,
    soft_update,
)

MIN_RETURN_VARIANCE = 1e-2  # the return statistics' variance floor, as the observation statistics'
RANK_OWN_GROUPS = ("rng", "perturbed_actor")  # under MPI each rank explores with its own noise


def clipped_gradients(gradients: list[tf.Tensor], clip_norm: float | None) -> tuple[list[tf.Tensor], tf.Tensor]:
    """(each variable's gradient rescaled to norm <= clip_norm when given, as baselines' flatgrad, the global norm
    before)."""
    if clip_norm is None:
        return gradients, tf.linalg.global_norm(gradients)
    return clip_gradients_per_variable(gradients, clip_norm)


class Gradients(NamedTuple):
    """One batch's critic and actor gradients (clipped), their losses and their norms (before clipping)."""

    critic: list[tf.Tensor]
    actor: list[tf.Tensor]
    critic_loss: tf.Tensor
    actor_loss: tf.Tensor
    critic_norm: tf.Tensor
    actor_norm: tf.Tensor


class DDPG(OffPolicyAgent):
    """baselines' DDPG agent, trainable in one compiled step and saved as data; data-parallel under MPI (every
    rank must build it, since the ranks exchange their initial variables)."""

    alg = "ddpg"
    data_parallel = True
    targets_every_update = True  # baselines' DDPG moves its targets after each update (its HER, once per cycle)
    redrawn_groups = ("perturbed_actor",)  # a checkpoint trained with action noise (or none) has no perturbation

    def __init__(self, observation_space: Any, action_space: Any, network: str, network_kwargs: Mapping[str, Any],
                 config: Any, seed: int | None = None) -> None:
        self.seed = seed
        super().__init__(observation_space, action_space, network, network_kwargs, config)
        self.synchronize()

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
            self._perturb_anew()
        batch_spec = batch_signature(self.obs_size, self.nb_actions)
        if self.world.size == 1:
            self._train = CompiledFunction(self._train_step, [batch_spec])
        else:  # the step cut in two around the Allreduce
            self._local_gradients = CompiledFunction(self._local_gradient_step, [batch_spec])
            buffer = tf.TensorSpec([flat_size(self._buffer_shapes())], tf.float32)
            self._apply_averaged = CompiledFunction(self._apply_averaged_step, [buffer])
            if config.normalize_returns and config.popart:
                self._return_sums = CompiledFunction(self._return_sums_step, [batch_spec])
                self._popart_merge = CompiledFunction(self._popart_merge_step, [tf.TensorSpec([3], tf.float64)])

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

    def synchronize(self) -> None:
        """Give every rank rank 0's networks, targets, optimizer state and return statistics, then draw this rank's
        perturbation of the common actor (nothing to do with one rank)."""
        if self.world.size == 1:
            return
        shared = [variable for name, variables in self.variable_groups().items() if name not in RANK_OWN_GROUPS
                  for variable in variables]
        assign_variables(shared, self.world.broadcast([np.asarray(variable.numpy()) for variable in shared]),
                         "rank 0's variables")
        self._perturb_anew()

    def load(self, path: str) -> dict[str, Any]:
        """OffPolicyAgent.load; under MPI, ranks > 0 keep their own noise generators (the checkpoint holds rank 0's)
        and draw their own perturbation of the loaded actor, so the ranks go on exploring apart."""
        if self.world.rank == 0:
            return super().load(path)
        generator_state, noise_state = self.generator.state.numpy(), self.noise_rng.bit_generator.state
        metadata = super().load(path)
        self.generator.state.assign(generator_state)
        self.noise_rng.bit_generator.state = noise_state
        self._perturb_anew()
        return metadata

    # ---- acting and exploration -----------------------------------------------------------------------

    def _deterministic_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self.actor(self.normalizer(obs))

    def _perturbed_actions(self, obs: tf.Tensor) -> tf.Tensor:
        return self.perturbed_actor(self.normalizer(obs))

    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The (perturbed) actor's actions plus action noise, as baselines' `step(apply_noise=True)`: one noise draw
        per step, added to every env's action (so an Ornstein-Uhlenbeck process advances once per step)."""
        tensor = self.obs_tensor(obs)
        actions = (self.perturbed_actions if self.param_noise is not None else self.deterministic_actions)(tensor)
        actions = actions.numpy()
        if self.action_noise is not None:
            actions = actions + np.asarray(self.action_noise(), np.float32)
        return np.clip(actions, -1.0, 1.0)

    def _perturb(self, target: keras.Model, stddev: tf.Tensor) -> None:
        """target <- actor + N(0, stddev) on the trainable weights but layer norms' (baselines' perturbable_vars)."""
        for variable, perturbed in zip(self.actor.weights, target.weights):
            if is_perturbable(variable):
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
        self._perturb_anew()

    def redraw_exploration(self) -> None:
        self._perturb_anew()

    def _perturb_anew(self) -> None:
        """Draw a new perturbation of the actor at the current noise std (with parameter noise)."""
        if self.param_noise is not None:
            self.perturb_actor(tf.constant(self.param_noise.current_stddev, tf.float32))

    def after_episode(self, env_index: int, num_envs: int) -> None:
        if num_envs == 1:  # baselines resets at each episode end with one env, at each rollout with several
            self.reset()

    def before_rollout(self, num_envs: int) -> None:
        if num_envs > 1:
            self.reset()

    def maybe_adapt(self, train_step: int, memory: Any) -> dict[str, float]:
        """Every `param_noise_adaption_interval` gradient steps of an iteration, adapt the parameter noise to the
        distance averaged over MPI ranks (so every rank keeps the same noise std)."""
        if self.param_noise is None or train_step % self.config.param_noise_adaption_interval != 0:
            return {}
        batch = memory.sample(self.config.batch_size)
        stddev = tf.constant(self.param_noise.current_stddev, tf.float32)
        local = self.adaptive_distance(tf.convert_to_tensor(batch["obs0"]), stddev)  # replay rows are flat already
        distance = float(self.world.mean(np.array([local], np.float64))[0])
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
        """One update; under MPI with the gradients (and Pop-Art's return statistics) of every rank's batch."""
        if self.world.size == 1:
            return self._train(batch)
        if self.config.normalize_returns and self.config.popart:
            self._popart_merge(self.world.sum(self._return_sums(batch).numpy()))
        return self._apply_averaged(self.world.mean(self._local_gradients(batch).numpy()))

    def _return_mean_std(self) -> tuple[tf.Tensor, tf.Tensor]:
        return self.return_moments[0], tf.sqrt(tf.maximum(self.return_moments[1], MIN_RETURN_VARIANCE))

    def _popart(self, target_q: tf.Tensor) -> None:
        """Pop-Art (van Hasselt et al. 2016): add the targets to the return statistics, then rescale both critics'
        output layers so their denormalized outputs are unchanged."""
        batch_mean, batch_var = tf.nn.moments(target_q, axes=[0])
        self._popart_with_moments(batch_mean, batch_var, tf.cast(tf.shape(target_q)[0], tf.float32))

    def _popart_with_moments(self, batch_mean: tf.Tensor, batch_var: tf.Tensor, batch_count: tf.Tensor) -> None:
        """`_popart` given the targets' mean, variance and count."""
        old_mean, old_std = self._return_mean_std()
        mean, var, count = self.return_moments[0], self.return_moments[1], self.return_moments[2]
        # Chan et al.'s parallel merge of two (mean, var, count), as baselines' update_mean_var_count_from_moments
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

    def _target_q(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """r + gamma (1 - terminal) Q'(s', mu'(s')), in return units."""
        obs1 = self.normalizer(batch["obs1"])
        rewards, terminals = batch["rewards"][:, 0], batch["terminals1"][:, 0]
        mean, std = self._return_mean_std()
        next_q = self.target_critic([obs1, self.target_actor(obs1)]) * std + mean
        return tf.stop_gradient(rewards + (1.0 - terminals) * self.config.gamma * next_q)

    def _gradients(self, batch: dict[str, tf.Tensor], target_q: tf.Tensor) -> Gradients:
        """The critic's and the actor's gradients, both at the current weights."""
        config = self.config
        obs0 = self.normalizer(batch["obs0"])
        mean, std = self._return_mean_std()
        normalized_target = (target_q - mean) / std
        with tf.GradientTape() as tape:
            critic_loss = tf.reduce_mean(tf.square(self.critic([obs0, batch["actions"]]) - normalized_target))
            if config.critic_l2_reg > 0:
                critic_loss += l2_penalty(self.critic, config.critic_l2_reg)
        critic_gradients, critic_norm = clipped_gradients(
            tape.gradient(critic_loss, self.critic.trainable_variables), config.clip_norm)
        # the actor's gradient uses the critic before its step: baselines ran both gradients in one sess.run
        with tf.GradientTape() as tape:
            actor_loss = self._actor_loss(obs0, batch["actions"], mean, std)
        actor_gradients, actor_norm = clipped_gradients(
            tape.gradient(actor_loss, self.actor.trainable_variables), config.clip_norm)
        return Gradients(critic_gradients, actor_gradients, critic_loss, actor_loss, critic_norm, actor_norm)

    def _actor_loss(self, obs0: tf.Tensor, actions: tf.Tensor, mean: tf.Tensor, std: tf.Tensor) -> tf.Tensor:
        """-Q(s, mu(s)) in return units, averaged over the batch (the batch's `actions` serve HER's cloning)."""
        # ascending Q(s, mu(s)) is the deterministic policy gradient (Silver et al. 2014; Lillicrap et al. 2016, alg. 1)
        return -tf.reduce_mean(self.critic([obs0, self.actor(obs0)]) * std + mean)

    def _apply(self, gradients: Gradients) -> tf.Tensor:
        """Apply both gradients (each only if finite), then move the targets (unless they move once per iteration);
        1.0 if either update was skipped."""
        skipped_critic = apply_if_finite(self.critic_optimizer, gradients.critic, self.critic.trainable_variables,
                                         gradients.critic_loss, gradients.critic_norm)
        skipped_actor = apply_if_finite(self.actor_optimizer, gradients.actor, self.actor.trainable_variables,
                                        gradients.actor_loss, gradients.actor_norm)
        if self.targets_every_update:
            self._move_targets()
        return tf.maximum(skipped_critic, skipped_actor)

    def _move_targets(self) -> tf.Tensor:
        """Polyak-average both targets toward their networks by `tau`."""
        soft_update(self.target_actor.weights, self.actor.weights, self.config.tau)
        soft_update(self.target_critic.weights, self.critic.weights, self.config.tau)
        return tf.constant(0.0)

    def _train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        target_q = self._target_q(batch)
        if self.config.normalize_returns and self.config.popart:
            self._popart(target_q)
        gradients = self._gradients(batch, target_q)
        return {"loss_critic": gradients.critic_loss, "loss_actor": gradients.actor_loss,
                "reference_Q_mean": tf.reduce_mean(target_q), "skipped": self._apply(gradients)}

    # ---- the update under MPI: local gradients, one Allreduce, the same application on every rank ----------

    def _buffer_shapes(self) -> list[Any]:
        """What `_local_gradient_step` packs: the critic's then the actor's gradients, the two losses, the mean
        target."""
        variables = [*self.critic.trainable_variables, *self.actor.trainable_variables]
        return [*(variable.shape for variable in variables), (), (), ()]

    def _local_gradient_step(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """This rank's gradients (each clipped, as baselines' flatgrad before MpiAdam averages), losses and mean
        target, as one float32 buffer."""
        target_q = self._target_q(batch)
        gradients = self._gradients(batch, target_q)
        return flat_concat([*gradients.critic, *gradients.actor, gradients.critic_loss, gradients.actor_loss,
                            tf.reduce_mean(target_q)])

    def _apply_averaged_step(self, buffer: tf.Tensor) -> dict[str, tf.Tensor]:
        """Apply a `_local_gradient_step` buffer averaged over ranks; every rank computes the same update, and skips
        it together when a rank's loss or gradient was not finite."""
        pieces = split_flat(buffer, self._buffer_shapes())
        critic_count = len(self.critic.trainable_variables)
        critic, actor = pieces[:critic_count], pieces[critic_count:-3]
        critic_loss, actor_loss, mean_target = pieces[-3:]
        skipped = self._apply(Gradients(critic, actor, critic_loss, actor_loss, tf.linalg.global_norm(critic),
                                        tf.linalg.global_norm(actor)))
        return {"loss_critic": critic_loss, "loss_actor": actor_loss, "reference_Q_mean": mean_target,
                "skipped": skipped}

    def _return_sums_step(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """(count, sum, sum of squares) of this rank's targets, float64, to add up over ranks for Pop-Art."""
        target_q = tf.cast(self._target_q(batch), tf.float64)
        return tf.stack([tf.cast(tf.size(target_q), tf.float64), tf.reduce_sum(target_q),
                         tf.reduce_sum(tf.square(target_q))])

    def _popart_merge_step(self, sums: tf.Tensor) -> tf.Tensor:
        """Pop-Art with the moments of every rank's targets (`_return_sums_step` summed over ranks)."""
        count = sums[0]
        mean = sums[1] / count
        var = tf.maximum(sums[2] / count - tf.square(mean), 0.0)  # E[x^2] - mean^2 can round below 0
        self._popart_with_moments(tf.cast(mean, tf.float32), tf.cast(var, tf.float32), tf.cast(count, tf.float32))
        return count
