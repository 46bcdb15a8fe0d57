"""The networks DDPG, TD3 and SAC share: deterministic and squashed-Gaussian actors, Q critics, Polyak target updates,
and the observation normalizer the acting and training graphs read.

Torsos come from the network registry (`mlp` by default, as baselines' ddpg.models), so `num_layers`, `num_hidden`,
`activation` and `layer_norm` mean what they mean for PPO2. Output layers start uniform in +-3e-3 (Lillicrap et al.
2016, section 7), so the first actions and Q-values are near zero.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.mpi_util import World
from baselines_tf2.nn.models import get_network_builder
from baselines_tf2.nn.tf_util import CompiledFunction

FINAL_LAYER_INIT = 3e-3  # DDPG paper: final layer weights and biases from U(-3e-3, 3e-3)
OBSERVATION_CLIP = 5.0  # baselines' observation_range (-5, 5) after normalization
MIN_OBSERVATION_VARIANCE = 1e-2  # baselines' mpi_running_mean_std floors the variance at 1e-2 (std >= 0.1)
LOG_STD_BOUNDS = (-20.0, 2.0)  # SAC's clip of the Gaussian actor's log std (Haarnoja et al.'s implementation)


def _final_layer(units: int, name: str) -> keras.layers.Dense:
    """An output layer, float32 whatever the precision (actions and Q-values keep full precision)."""
    init = keras.initializers.RandomUniform(-FINAL_LAYER_INIT, FINAL_LAYER_INIT)
    return keras.layers.Dense(units, kernel_initializer=init, bias_initializer=init, name=name, dtype="float32")


def _torso(network: str, network_kwargs: Mapping[str, Any], input_size: int, name: str) -> keras.Model:
    """A registered torso over a flat float32 input of `input_size`, under its own name."""
    torso = get_network_builder(network)(**dict(network_kwargs))((input_size,), "float32")
    if getattr(torso, "recurrent", False):
        raise ValueError(f"network {network!r} is recurrent; the continuous-control learners take feed-forward "
                         "networks (e.g. mlp)")
    return keras.Model(torso.inputs[0], torso.outputs[0], name=name)


def build_actor(obs_size: int, nb_actions: int, network: str, network_kwargs: Mapping[str, Any],
                name: str = "actor") -> keras.Model:
    """Deterministic actor: normalized observation -> torso -> dense -> tanh, actions in [-1, 1] (DDPG, TD3)."""
    observations = keras.Input((obs_size,), name="observations")
    latent = _torso(network, network_kwargs, obs_size, f"{name}_torso")(observations)
    actions = keras.layers.Activation("tanh", name="tanh", dtype="float32")(_final_layer(nb_actions, "output")(latent))
    return keras.Model(observations, actions, name=name)


def build_gaussian_actor(obs_size: int, nb_actions: int, network: str, network_kwargs: Mapping[str, Any],
                         name: str = "actor") -> keras.Model:
    """SAC's actor: normalized observation -> torso -> (mean, log std clipped to LOG_STD_BOUNDS), before the tanh."""
    observations = keras.Input((obs_size,), name="observations")
    latent = _torso(network, network_kwargs, obs_size, f"{name}_torso")(observations)
    mean = _final_layer(nb_actions, "mean")(latent)
    log_std = keras.ops.clip(_final_layer(nb_actions, "log_std")(latent), *LOG_STD_BOUNDS)
    return keras.Model(observations, [mean, log_std], name=name)


def build_critic(obs_size: int, nb_actions: int, network: str, network_kwargs: Mapping[str, Any],
                 name: str = "critic") -> keras.Model:
    """Q(s, a): the normalized observation and the action (in [-1, 1]) concatenated -> torso -> one value [B]."""
    observations = keras.Input((obs_size,), name="observations")
    actions = keras.Input((nb_actions,), name="actions")
    joined = keras.layers.Concatenate(name="observation_action")([observations, actions])
    latent = _torso(network, network_kwargs, obs_size + nb_actions, f"{name}_torso")(joined)
    q_values = keras.layers.Reshape((), name="q", dtype="float32")(_final_layer(1, "output")(latent))
    return keras.Model([observations, actions], q_values, name=name)


def build_twin_critics(obs_size: int, nb_actions: int, network: str, network_kwargs: Mapping[str, Any],
                       ) -> tuple[list[keras.Model], list[keras.Model]]:
    """Two critics and their targets (started equal), for the clipped double-Q target of TD3 and SAC."""
    sizes = (obs_size, nb_actions, network, network_kwargs)
    critics = [build_critic(*sizes, name=f"critic{index}") for index in (1, 2)]
    targets = [build_critic(*sizes, name=f"target_critic{index}") for index in (1, 2)]
    for target, critic in zip(targets, critics):
        copy_weights(target, critic)
    return critics, targets


def critic_variables(critics: Sequence[keras.Model]) -> list[tf.Variable]:
    """The trainable variables of several critics, in order (one optimizer updates them together)."""
    return [variable for critic in critics for variable in critic.trainable_variables]


def is_perturbable(variable: tf.Variable) -> bool:
    """Whether parameter noise perturbs `variable`: trainable and not a layer norm's (baselines' perturbable_vars;
    the mlp torso names its layer norms `layer_norm*`, the recurrent ones `*_ln*`)."""
    return bool(variable.trainable) and "layer_norm" not in variable.path and "_ln" not in variable.path


def copy_weights(target: keras.Model, source: keras.Model) -> None:
    """Make `target` an exact copy of `source` (same architecture)."""
    for target_variable, variable in zip(target.weights, source.weights):
        target_variable.assign(variable)


def soft_update(targets: Sequence[tf.Variable], sources: Sequence[tf.Variable], tau: float) -> None:
    """Polyak averaging, target <- (1 - tau) target + tau source (inside a compiled step)."""
    for target, source in zip(targets, sources):
        target.assign((1.0 - tau) * target + tau * source)


def l2_penalty(model: keras.Model, scale: float) -> tf.Tensor:
    """scale * sum(w^2) / 2 over the torso's dense kernels (baselines' critic_l2_reg: not biases, not the output)."""
    # a variable's path ends in <layer name>/kernel, with no leading slash at the top level ("output/kernel")
    kernels = [v for v in model.trainable_variables if v.path.split("/")[-2:] != ["output", "kernel"]
               and v.path.endswith("/kernel")]
    return scale * tf.add_n([tf.nn.l2_loss(kernel) for kernel in kernels]) if kernels else tf.constant(0.0)


class ObservationNormalizer:
    """Running mean and variance of the observations seen (float64, merged exactly as RunningMeanStd does), kept
    in TF variables the compiled graphs read: (obs - mean) / std clipped to +-5, as baselines' DDPG; the identity
    when disabled. `update` is one compiled call (an eager assign per step would cost more than the update).

    With several MPI `ranks`, each `update` merges every rank's batch (one Allgather), so every rank holds the
    statistics one process would have of all ranks' observations."""

    def __init__(self, obs_size: int, enabled: bool, ranks: World | None = None,
                 min_variance: float = MIN_OBSERVATION_VARIANCE, clip: float = OBSERVATION_CLIP) -> None:
        self.enabled = enabled
        self.min_variance = min_variance  # the std is at least its square root
        self.clip = clip  # normalized observations are clipped to +-clip
        self.ranks = ranks or World()
        self.mean = tf.Variable(np.zeros(obs_size), dtype=tf.float64, trainable=False, name="obs_mean")
        self.var = tf.Variable(np.ones(obs_size), dtype=tf.float64, trainable=False, name="obs_var")
        self.count = tf.Variable(1e-4, dtype=tf.float64, trainable=False, name="obs_count")  # RunningMeanStd's
        self._update = CompiledFunction(self._merge, [tf.TensorSpec([None, obs_size], tf.float32)])

    def update(self, observations: np.ndarray) -> None:
        """Add a batch of observations [n, obs_size] to the statistics (under MPI every rank calls this, with a
        batch of the same size, and every rank's batch is added)."""
        if self.enabled:
            self._update(tf.convert_to_tensor(self.ranks.concatenate(observations), tf.float32))

    def _merge(self, observations: tf.Tensor) -> tf.Tensor:
        """Chan et al.'s pairwise merge of the batch's moments into the running ones."""
        batch = tf.cast(observations, tf.float64)
        batch_mean, batch_var = tf.nn.moments(batch, axes=[0])
        batch_count = tf.cast(tf.shape(batch)[0], tf.float64)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self.var.assign((self.var * self.count + batch_var * batch_count
                         + tf.square(delta) * self.count * batch_count / total) / total)
        self.mean.assign(self.mean + delta * batch_count / total)
        self.count.assign(total)
        return total

    def mean_std(self) -> tuple[tf.Tensor, tf.Tensor]:
        """float32 mean and std (the variance floored at `min_variance`: 1e-2 as baselines' DDPG, eps^2 in HER)."""
        std = tf.sqrt(tf.maximum(self.var, self.min_variance))
        return tf.cast(self.mean, tf.float32), tf.cast(std, tf.float32)

    def __call__(self, observations: tf.Tensor) -> tf.Tensor:
        if not self.enabled:
            return observations
        mean, std = self.mean_std()
        return tf.clip_by_value((observations - mean) / (std + 1e-8), -self.clip, self.clip)

    def state(self) -> list[tuple[str, np.ndarray]]:
        """The statistics as named arrays, for checkpoints."""
        return [("mean", self.mean.numpy()), ("var", self.var.numpy()), ("count", self.count.numpy())]

    def set_state(self, arrays: Sequence[np.ndarray]) -> None:
        """Take back `state()`; ValueError if the shapes do not fit."""
        mean, var, count = (np.asarray(array, np.float64) for array in arrays)
        if mean.shape != tuple(self.mean.shape) or var.shape != mean.shape or count.shape != ():
            raise ValueError(f"observation statistics of shape {mean.shape} do not fit observations of shape "
                             f"{tuple(self.mean.shape)}")
        self.mean.assign(mean)
        self.var.assign(var)
        self.count.assign(count)
