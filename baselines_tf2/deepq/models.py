"""Q-networks: a registered torso with baselines' DQN head (hidden layers, optional dueling streams)."""

from __future__ import annotations

import reprlib
from typing import Any, Callable, Iterable, Sequence, Union

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.validation import ArgumentError, require_int
from baselines_tf2.nn.models import get_network_builder, is_recurrent
from baselines_tf2.nn.policies import observation_encoding
from baselines_tf2.nn.tf_util import dtype_policy


class HeadStream(keras.Model):
    """Layers applied in order. Not a keras.Sequential, whose input dtype is fixed when it is built: this one
    computes in whatever precision its layers are set to when traced (bf16 training, float32 acting)."""

    def __init__(self, layers: Sequence[keras.layers.Layer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream_layers = list(layers)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        for layer in self.stream_layers:
            inputs = layer(inputs)
        return inputs


class QNetwork(keras.Model):
    """torso -> hidden ReLU layers -> Q-values [B, n_actions]; dueling: V + A - mean(A) (Wang et al. 2016)."""

    def __init__(
        self,
        torso: keras.Model,
        n_actions: int,
        hiddens: Sequence[int],
        dueling: bool,
        layer_norm: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.torso = torso
        self.n_actions = n_actions
        self.dueling = dueling
        self.action_stream = self._stream(hiddens, layer_norm, n_actions, "action")
        self.value_stream = self._stream(hiddens, layer_norm, 1, "state") if dueling else None

    @staticmethod
    def _stream(hiddens: Sequence[int], layer_norm: bool, outputs: int, name: str) -> HeadStream:
        layers: list[keras.layers.Layer] = []
        for index, units in enumerate(hiddens):
            layers.append(keras.layers.Dense(units, name=f"{name}_fc{index}"))
            if layer_norm:
                layers.append(keras.layers.LayerNormalization(name=f"{name}_ln{index}"))
            layers.append(keras.layers.ReLU(name=f"{name}_relu{index}"))
        layers.append(keras.layers.Dense(outputs, name=f"{name}_out", dtype="float32"))
        return HeadStream(layers, name=f"{name}_value")

    def call(self, obs: tf.Tensor) -> tf.Tensor:
        latent = keras.ops.reshape(self.torso(obs), (keras.ops.shape(obs)[0], -1))
        advantages = self.action_stream(latent)
        if self.value_stream is None:
            return advantages
        state_value = self.value_stream(latent)
        return state_value + advantages - keras.ops.mean(advantages, axis=1, keepdims=True)


def build_q_network(
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    network: str,
    hiddens: Sequence[int] = (256,),
    dueling: bool = True,
    layer_norm: bool = False,
    precision: str = "float32",
    **network_kwargs: Any,
) -> QNetwork:
    """A built Q-network for the spaces (baselines' build_q_func defaults: hiddens [256], dueling).

    `precision='mixed_bfloat16'` computes the torso and hidden layers in bfloat16 (float32 weights, float32
    Q-values), as the policies' option of the same name."""
    q_network, obs_shape, obs_dtype = _unbuilt_q_network(observation_space, action_space, network, hiddens, dueling,
                                                         layer_norm, precision, network_kwargs)
    q_network(tf.zeros([1, *obs_shape], obs_dtype))
    return q_network


def q_network_shapes(
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    network: str,
    hiddens: Sequence[int] = (256,),
    dueling: bool = True,
    layer_norm: bool = False,
    precision: str = "float32",
    **network_kwargs: Any,
) -> QNetwork:
    """`build_q_network`'s Q-network built on a Keras placeholder: run inside a deferred scope, it has every
    variable's shape and no value (what bounds a checkpoint's network before it is built)."""
    q_network, obs_shape, obs_dtype = _unbuilt_q_network(observation_space, action_space, network, hiddens, dueling,
                                                         layer_norm, precision, network_kwargs)
    q_network(keras.Input(batch_shape=(1, *obs_shape), dtype=obs_dtype))
    return q_network


def _unbuilt_q_network(
    observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str, hiddens: Sequence[int],
    dueling: bool, layer_norm: bool, precision: str, network_kwargs: dict[str, Any],
) -> tuple[QNetwork, tuple[int, ...], str]:
    """(the Q-network, whose head gets its variables at the first call; the observation shape and dtype it takes)."""
    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise TypeError(
            f"DQN needs a Discrete action space, got {action_space}; use ppo2 or a2c for continuous actions"
        )
    if isinstance(hiddens, (str, bytes, dict)) or not isinstance(hiddens, Iterable):  # a str: a layer per character
        raise ArgumentError(f"hiddens must be a list of layer sizes, got {reprlib.repr(hiddens)}")
    try:
        hiddens = [require_int(f"hiddens[{index}]", units, minimum=1) for index, units in enumerate(hiddens)]
    except ValueError as err:  # a usage error on the command line, as the torso's options are
        raise ArgumentError(str(err)) from None
    for name, flag in (("dueling", dueling), ("layer_norm", layer_norm)):
        if not isinstance(flag, (bool, np.bool_)):  # "no" or "False" from a config file would count as True
            raise ArgumentError(f"{name} must be True or False, got {flag!r}")
    obs_shape, obs_dtype = observation_encoding(observation_space)
    with dtype_policy(precision):
        torso = get_network_builder(network)(**network_kwargs)(obs_shape, obs_dtype)
        if is_recurrent(torso):
            raise ValueError(f"network {network!r} is recurrent; deepq supports feed-forward networks only")
        q_network = QNetwork(torso, int(action_space.n), list(hiddens), dueling, layer_norm, name="q_network")
    return q_network, obs_shape, obs_dtype



# ---- baselines' builder functions ---------------------------------------------------------------------------

QFuncBuilder = Callable[[Union[gymnasium.Space, Sequence[int]], int], QNetwork]


def build_q_func(network: str, hiddens: Sequence[int] = (256,), dueling: bool = True, layer_norm: bool = False,
                 **network_kwargs: Any) -> QFuncBuilder:
    """baselines' `build_q_func`: a `q_func(observation_space, num_actions)` that builds a QNetwork.

    `network` is a registered name (baselines also took a network function). The first argument of `q_func` may be
    a gymnasium space or, as in baselines' tf2 branch, an observation shape (then float32 observations).
    """
    def q_func(observation_space: gymnasium.Space | Sequence[int], num_actions: int) -> QNetwork:
        if not isinstance(observation_space, gymnasium.Space):
            observation_space = gymnasium.spaces.Box(-np.inf, np.inf, tuple(observation_space), np.float32)
        return build_q_network(observation_space, gymnasium.spaces.Discrete(num_actions), network, hiddens=hiddens,
                               dueling=dueling, layer_norm=layer_norm, **network_kwargs)

    return q_func


def mlp(hiddens: Sequence[int] = (), layer_norm: bool = False) -> QFuncBuilder:
    """baselines' old `deepq.models.mlp`: flattened observations -> ReLU `hiddens` -> Q-values, no dueling."""
    return build_q_func("mlp", hiddens=hiddens, dueling=False, layer_norm=layer_norm, num_layers=0)


def cnn_to_mlp(convs: Sequence[tuple[int, int, int]], hiddens: Sequence[int], dueling: bool = False,
               layer_norm: bool = False) -> QFuncBuilder:
    """baselines' old `deepq.models.cnn_to_mlp`: ReLU convs (filters, kernel, stride), then ReLU `hiddens`."""
    return build_q_func("conv_only", hiddens=hiddens, dueling=dueling, layer_norm=layer_norm, convs=convs)
