"""Rollout acting in NumPy for small feed-forward policies: a snapshot of the Keras weights, no TensorFlow call per
step.

On a single env a TensorFlow call costs 0.3-0.6 ms, far more than the arithmetic of a 2 x 64 MLP (tens of
microseconds), so MuJoCo-sized rollouts spent most of their time calling TensorFlow. A snapshot is taken at the start
of each rollout (the weights change only in the update after it), and the noise for the whole rollout is drawn in one
call from the policy's own generator, whose state checkpoints already save: exact resume is unchanged.

Only what can be mirrored exactly is snapshotted: float32 policies built by the `mlp` network (Dense, layer norm and
the usual activations) on Box observations, with a Gaussian (Box) or categorical (Discrete) action head. Anything
else acts through TensorFlow as before.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable

import gymnasium
import keras
import numpy as np

from baselines_tf2.common.validation import observation_batch
from baselines_tf2.nn.distributions import DiagGaussianHead

Layer = Callable[[np.ndarray], np.ndarray]

HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)
SNAPSHOT_NETWORKS = ("mlp",)  # registered torsos whose layers form one chain of the kinds below
_ACTIVATIONS: dict[str, Layer] = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0))),
}


def _activation(function: Any) -> Layer | None:
    """The NumPy twin of a Keras activation, or None when there is none here."""
    try:
        name = keras.activations.serialize(function)
    except (ValueError, TypeError):
        return None
    return _ACTIVATIONS.get(name) if isinstance(name, str) else None


def _array(variable: Any) -> np.ndarray:
    return np.asarray(variable.numpy(), np.float32)


def _dense(kernel: np.ndarray, bias: np.ndarray | None, activation: Layer, x: np.ndarray) -> np.ndarray:
    y = x @ kernel
    return activation(y if bias is None else y + bias)


def _layer_norm(gamma: np.ndarray | None, beta: np.ndarray | None, epsilon: float, x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(variance + epsilon)
    y = y if gamma is None else y * gamma
    return y if beta is None else y + beta


def _numpy_layer(layer: keras.layers.Layer) -> Layer | None:
    """One Keras layer with its current weights as a NumPy function, or None when it has no twin here."""
    if isinstance(layer, keras.layers.InputLayer):
        return lambda x: x
    if isinstance(layer, keras.layers.Flatten):
        return lambda x: x.reshape(len(x), -1)
    if isinstance(layer, keras.layers.Rescaling):
        scale, offset = np.float32(layer.scale), np.float32(layer.offset)
        return lambda x: x.astype(np.float32) * scale + offset
    if isinstance(layer, keras.layers.Activation):
        return _activation(layer.activation)
    if isinstance(layer, keras.layers.Dense):
        activation = _activation(layer.activation)
        if activation is None:
            return None
        return partial(_dense, _array(layer.kernel), _array(layer.bias) if layer.use_bias else None, activation)
    if isinstance(layer, keras.layers.LayerNormalization):
        if list(layer.axis) not in ([-1], [len(layer.input.shape) - 1]):
            return None
        return partial(_layer_norm, _array(layer.gamma) if layer.scale else None,
                       _array(layer.beta) if layer.center else None, float(layer.epsilon))
    return None


def _numpy_chain(model: keras.Model) -> Layer | None:
    """A chain-shaped Keras model (each layer feeding the next) as one NumPy function, or None."""
    layers = [_numpy_layer(layer) for layer in model.layers]
    if any(layer is None for layer in layers):
        return None

    def forward(x: np.ndarray) -> np.ndarray:
        for layer in layers:
            assert layer is not None  # checked above
            x = layer(x)
        return x

    return forward


def can_snapshot(policy: Any) -> bool:
    """Whether `policy` (a PolicyWithValue) can act through a `NumpyActor` with identical distributions."""
    return (
        not policy.recurrent
        and policy.description["network"] in SNAPSHOT_NETWORKS
        and policy.description["precision"] == "float32"
        and isinstance(policy.observation_space, gymnasium.spaces.Box)
        and isinstance(policy.action_space, (gymnasium.spaces.Box, gymnasium.spaces.Discrete))
        and all(_numpy_chain(torso) is not None for torso in (policy.net.torso, policy.net.value_torso) if torso)
    )


class NumpyActor:
    """A policy's weights at one moment and the noise for `steps` x `nenvs` actions; baselines' `step`/`value`."""

    def __init__(self, policy: Any, steps: int, nenvs: int) -> None:
        net = policy.net
        self.obs_shape = tuple(policy.obs_shape)
        torso = _numpy_chain(net.torso)
        value_torso = torso if net.value_torso is None else _numpy_chain(net.value_torso)
        if torso is None or value_torso is None:
            raise ValueError("this policy's layers have no NumPy twin; act through the policy itself")
        self._torso = torso
        self._value_torso = None if net.value_torso is None else value_torso  # None: the value head shares the torso
        self._value_kernel, self._value_bias = _array(net.value_head.kernel), _array(net.value_head.bias)
        self.gaussian = isinstance(net.pd_head, DiagGaussianHead)
        head = net.pd_head.mean_layer if self.gaussian else net.pd_head
        self._head_kernel, self._head_bias = _array(head.kernel), _array(head.bias)
        if self.gaussian:
            self._logstd = _array(net.pd_head.logstd)
            self._noise = policy.sampler.normal([steps, nenvs, len(self._logstd)]).numpy()
        else:  # Gumbel-max: argmax(logits - log(-log u)) is a categorical draw
            uniform = policy.sampler.uniform([steps, nenvs, self._head_kernel.shape[1]]).numpy()
            self._noise = -np.log(-np.log(np.clip(uniform, np.finfo(np.float32).tiny, 1.0)))
        self._next = 0

    @property
    def initial_state(self) -> None:
        return None

    def _inputs(self, obs: Any) -> np.ndarray:
        return observation_batch(obs, self.obs_shape).astype(np.float32, copy=False)

    def step(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, np.ndarray, None, np.ndarray]:
        """Sample actions with the next rows of noise: `(actions, values, None, neglogp)`."""
        inputs = self._inputs(obs)
        if self._next >= len(self._noise):
            raise RuntimeError(f"this actor's noise covers {len(self._noise)} steps; take a new snapshot")
        noise = self._noise[self._next][: len(inputs)]
        self._next += 1
        latent = self._torso(inputs)
        head = latent @ self._head_kernel + self._head_bias
        if self.gaussian:
            actions = (head + np.exp(self._logstd) * noise).astype(np.float32)
            dims = len(self._logstd)
            neglogp = 0.5 * np.sum(np.square(noise), axis=-1) + HALF_LOG_TWO_PI * dims + np.sum(self._logstd)
        else:
            choice = np.argmax(head + noise, axis=-1)
            actions = choice.astype(np.int64)
            shifted = head - head.max(axis=-1, keepdims=True)
            log_normalizer = np.log(np.sum(np.exp(shifted), axis=-1))
            neglogp = log_normalizer - np.take_along_axis(shifted, choice[:, None], axis=-1)[:, 0]
        values = self._value_of(latent if self._value_torso is None else self._value_torso(inputs))
        return actions, values, None, neglogp.astype(np.float32)

    def value(self, obs: Any, S: Any = None, M: Any = None) -> np.ndarray:
        """State values V(obs)."""
        inputs = self._inputs(obs)
        return self._value_of(self._torso(inputs) if self._value_torso is None else self._value_torso(inputs))

    def _value_of(self, latent: np.ndarray) -> np.ndarray:
        return (latent @ self._value_kernel + self._value_bias)[:, 0].astype(np.float32)
