"""Action distributions over tensors (usable inside tf.function) and the policy heads that parameterise them.

`make_pd_head(space)` maps a latent [B, d] to the distribution's parameters; `make_pd(space, params)` wraps them.
Discrete actions are int64 (gymnasium's dtype), Box actions float32, MultiBinary actions int8.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import keras
import numpy as np
import tensorflow as tf

HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)
SUPPORTED_SPACES = "Discrete, Box (1-D), MultiDiscrete (1-D, start 0) and MultiBinary (1-D)"


def _integer_actions(x: tf.Tensor | np.ndarray, name: str) -> tf.Tensor:
    """Actions as an int64 tensor; float actions are rejected because truncating them would hide a bug."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_integer:
        raise TypeError(f"{name} actions must be integers, got dtype {x.dtype.name}")
    return tf.cast(x, tf.int64)


def _categorical_sample(logits: tf.Tensor, generator: tf.random.Generator | None) -> tf.Tensor:
    """One draw per row of `logits` [..., n] -> int64 [...]; seeded from `generator` if given, else the global seed."""
    flat_logits = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    if generator is None:
        draws = tf.random.categorical(flat_logits, 1, dtype=tf.int64)
    else:
        draws = tf.random.stateless_categorical(flat_logits, 1, generator.make_seeds(1)[:, 0], dtype=tf.int64)
    return tf.reshape(draws, tf.shape(logits)[:-1])


class CategoricalPd:
    """Categorical distribution from unnormalised logits [..., n]; actions are int64 indices [...]."""

    def __init__(self, logits: tf.Tensor | np.ndarray) -> None:
        self.logits = tf.convert_to_tensor(logits, dtype=tf.float32)

    @classmethod
    def fromflat(cls, flat: tf.Tensor | np.ndarray) -> CategoricalPd:
        """baselines' constructor from flat parameters (the logits)."""
        return cls(flat)

    def flatparam(self) -> tf.Tensor:
        """The flat parameters: the logits."""
        return self.logits

    @property
    def mean(self) -> tf.Tensor:
        """The action probabilities (softmax of the logits), as baselines' `mean`."""
        return tf.nn.softmax(self.logits)

    def __getitem__(self, index: Any) -> CategoricalPd:
        return CategoricalPd(self.logits[index])

    def neglogp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """-log p(x), computed by softmax cross-entropy for numerical safety."""
        labels = _integer_actions(x, "Discrete")
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=self.logits)

    def logp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """log p(x)."""
        return -self.neglogp(x)

    def entropy(self) -> tf.Tensor:
        """-sum p log p; zero-probability actions (logit -inf) contribute 0."""
        log_probs = tf.nn.log_softmax(self.logits)
        return -tf.reduce_sum(tf.math.multiply_no_nan(log_probs, tf.exp(log_probs)), axis=-1)

    def kl(self, other: CategoricalPd) -> tf.Tensor:
        """KL(self || other) = sum p (log p - log q)."""
        log_p = tf.nn.log_softmax(self.logits)
        log_q = tf.nn.log_softmax(other.logits)
        return tf.reduce_sum(tf.math.multiply_no_nan(log_p - log_q, tf.exp(log_p)), axis=-1)

    def sample(self, generator: tf.random.Generator | None = None) -> tf.Tensor:
        """Random action per row, int64."""
        return _categorical_sample(self.logits, generator)

    def mode(self) -> tf.Tensor:
        """Most likely action (argmax of the logits), int64."""
        return tf.argmax(self.logits, axis=-1, output_type=tf.int64)


class MultiCategoricalPd:
    """Independent categoricals, one per entry of `nvec`, from logits [..., sum(nvec)].

    Actions are int64 [..., len(nvec)].
    """

    def __init__(self, nvec: list[int] | np.ndarray, logits: tf.Tensor | np.ndarray) -> None:
        self.nvec = [int(n) for n in nvec]
        self.logits = tf.convert_to_tensor(logits, dtype=tf.float32)
        self.components = [CategoricalPd(part) for part in tf.split(self.logits, self.nvec, axis=-1)]

    def flatparam(self) -> tf.Tensor:
        """The flat parameters: the components' logits side by side."""
        return self.logits

    def __getitem__(self, index: Any) -> MultiCategoricalPd:
        return MultiCategoricalPd(self.nvec, self.logits[index])

    def neglogp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """Sum of the components' -log p."""
        actions = tf.unstack(_integer_actions(x, "MultiDiscrete"), num=len(self.nvec), axis=-1)
        return tf.add_n([pd.neglogp(a) for pd, a in zip(self.components, actions)])

    def logp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """log p(x)."""
        return -self.neglogp(x)

    def entropy(self) -> tf.Tensor:
        """Sum of the components' entropies."""
        return tf.add_n([pd.entropy() for pd in self.components])

    def kl(self, other: MultiCategoricalPd) -> tf.Tensor:
        """Sum of the components' KL divergences."""
        return tf.add_n([pd.kl(q) for pd, q in zip(self.components, other.components)])

    def sample(self, generator: tf.random.Generator | None = None) -> tf.Tensor:
        """One draw per component, int64 [..., len(nvec)]."""
        return tf.stack([pd.sample(generator) for pd in self.components], axis=-1)

    def mode(self) -> tf.Tensor:
        """Per-component argmax, int64 [..., len(nvec)]."""
        return tf.stack([pd.mode() for pd in self.components], axis=-1)


class BernoulliPd:
    """Independent Bernoulli variables from logits [..., n]; actions int8 0/1 [..., n] (gymnasium MultiBinary)."""

    def __init__(self, logits: tf.Tensor | np.ndarray) -> None:
        self.logits = tf.convert_to_tensor(logits, dtype=tf.float32)
        self.probs = tf.sigmoid(self.logits)
        self.ps = self.mean = self.probs  # baselines' names for the probabilities

    @classmethod
    def fromflat(cls, flat: tf.Tensor | np.ndarray) -> BernoulliPd:
        """baselines' constructor from flat parameters (the logits)."""
        return cls(flat)

    def flatparam(self) -> tf.Tensor:
        """The flat parameters: the logits."""
        return self.logits

    def __getitem__(self, index: Any) -> BernoulliPd:
        return BernoulliPd(self.logits[index])

    def neglogp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """-log p(x) summed over the n variables."""
        labels = tf.cast(_integer_actions(x, "MultiBinary"), tf.float32)
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=self.logits), axis=-1)

    def logp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """log p(x)."""
        return -self.neglogp(x)

    def entropy(self) -> tf.Tensor:
        """Sum of the n binary entropies."""
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=self.probs, logits=self.logits), axis=-1)

    def kl(self, other: BernoulliPd) -> tf.Tensor:
        """KL(self || other) = cross-entropy(p, q) - entropy(p), summed over the n variables."""
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=self.probs, logits=other.logits)
        return tf.reduce_sum(cross_entropy, axis=-1) - self.entropy()

    def sample(self, generator: tf.random.Generator | None = None) -> tf.Tensor:
        """Independent 0/1 draws, int8."""
        shape = tf.shape(self.logits)
        uniform = tf.random.uniform(shape) if generator is None else generator.uniform(shape)
        return tf.cast(uniform < self.probs, tf.int8)

    def mode(self) -> tf.Tensor:
        """1 where p > 0.5, int8."""
        return tf.cast(self.logits > 0.0, tf.int8)


class DiagGaussianPd:
    """Gaussian with diagonal covariance: mean [..., d] and log standard deviation broadcastable to it (or
    baselines' one flat argument, [mean, logstd] concatenated)."""

    def __init__(self, mean: tf.Tensor | np.ndarray, logstd: tf.Tensor | np.ndarray | None = None) -> None:
        if logstd is None:  # baselines' DiagGaussianPd(flat): [mean, logstd] concatenated on the last axis
            mean, logstd = tf.split(tf.convert_to_tensor(mean, dtype=tf.float32), 2, axis=-1)
        self.mean = tf.convert_to_tensor(mean, dtype=tf.float32)
        self.logstd = tf.convert_to_tensor(logstd, dtype=tf.float32) + tf.zeros_like(self.mean)
        self.std = tf.exp(self.logstd)

    @classmethod
    def fromflat(cls, flat: tf.Tensor | np.ndarray) -> DiagGaussianPd:
        """baselines' constructor from flat parameters [mean, logstd]."""
        return cls(flat)

    def flatparam(self) -> tf.Tensor:
        """The flat parameters: [mean, logstd] concatenated on the last axis."""
        return tf.concat([self.mean, self.logstd], axis=-1)

    def __getitem__(self, index: Any) -> DiagGaussianPd:
        return DiagGaussianPd(self.mean[index], self.logstd[index])

    def neglogp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """0.5 * sum(((x - mean) / std)^2) + 0.5 * log(2 pi) * d + sum(logstd), summed over action dims."""
        x = tf.cast(x, tf.float32)
        dims = tf.cast(tf.shape(self.mean)[-1], tf.float32)
        return (
            0.5 * tf.reduce_sum(tf.square((x - self.mean) / self.std), axis=-1)
            + HALF_LOG_TWO_PI * dims
            + tf.reduce_sum(self.logstd, axis=-1)
        )

    def logp(self, x: tf.Tensor | np.ndarray) -> tf.Tensor:
        """log p(x)."""
        return -self.neglogp(x)

    def entropy(self) -> tf.Tensor:
        """sum(logstd + 0.5 * log(2 pi e)) over action dims."""
        return tf.reduce_sum(self.logstd + HALF_LOG_TWO_PI + 0.5, axis=-1)

    def kl(self, other: DiagGaussianPd) -> tf.Tensor:
        """KL(self || other) for diagonal Gaussians, summed over action dims."""
        return tf.reduce_sum(
            other.logstd
            - self.logstd
            + (tf.square(self.std) + tf.square(self.mean - other.mean)) / (2.0 * tf.square(other.std))
            - 0.5,
            axis=-1,
        )

    def sample(self, generator: tf.random.Generator | None = None) -> tf.Tensor:
        """mean + std * N(0, 1), float32."""
        shape = tf.shape(self.mean)
        noise = tf.random.normal(shape) if generator is None else generator.normal(shape)
        return self.mean + self.std * noise

    def mode(self) -> tf.Tensor:
        """The mean."""
        return self.mean


Pd = CategoricalPd | MultiCategoricalPd | BernoulliPd | DiagGaussianPd


class DiagGaussianHead(keras.layers.Layer):
    """latent [B, d] -> (mean [B, n], logstd [B, n]): a dense mean and a state-independent trainable logstd."""

    def __init__(self, action_dim: int, init_scale: float = 0.01, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mean_layer = keras.layers.Dense(
            action_dim, kernel_initializer=keras.initializers.Orthogonal(gain=init_scale), name="mean",
            dtype=self.dtype_policy,
        )
        self.logstd = self.add_weight(shape=(action_dim,), initializer="zeros", name="logstd")

    def build(self, input_shape: tuple) -> None:
        self.mean_layer.build(input_shape)

    def call(self, latent: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mean = self.mean_layer(latent)
        return mean, keras.ops.zeros_like(mean) + self.logstd


def make_pd_head(action_space: gymnasium.Space, init_scale: float = 0.01, name: str = "pi") -> keras.layers.Layer:
    """Layer mapping a latent [B, d] to `action_space`'s distribution parameters (orthogonal init, zero bias).

    Discrete, MultiDiscrete, MultiBinary -> logits; Box -> (mean, logstd) with logstd initialised at 0 (baselines).
    The head computes in float32 under any Keras dtype policy: with bfloat16 logits (8-bit mantissa) the small
    per-update changes that PPO's probability ratios measure would drown in rounding.
    """
    _check_supported(action_space)
    if isinstance(action_space, gymnasium.spaces.Box):
        return DiagGaussianHead(int(action_space.shape[0]), init_scale=init_scale, name=name, dtype="float32")
    if isinstance(action_space, gymnasium.spaces.Discrete):
        n_logits = int(action_space.n)
    elif isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        n_logits = int(np.sum(action_space.nvec))
    else:  # MultiBinary: one logit per binary variable
        assert isinstance(action_space, gymnasium.spaces.MultiBinary)  # the last space _check_supported lets through
        n_logits = int(action_space.shape[0])
    return keras.layers.Dense(n_logits, kernel_initializer=keras.initializers.Orthogonal(gain=init_scale), name=name,
                              dtype="float32")


def make_pd(action_space: gymnasium.Space, params: tf.Tensor | tuple[tf.Tensor, tf.Tensor]) -> Pd:
    """The distribution for `action_space` from the output of `make_pd_head(action_space)`."""
    _check_supported(action_space)
    if isinstance(action_space, gymnasium.spaces.Box):
        if not isinstance(params, (tuple, list)) or len(params) != 2:
            raise TypeError("Box action spaces need params = (mean, logstd), as returned by make_pd_head")
        return DiagGaussianPd(*params)
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return CategoricalPd(params)
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        return MultiCategoricalPd(action_space.nvec, params)
    return BernoulliPd(params)


def _check_supported(action_space: gymnasium.Space) -> None:
    """Raise TypeError naming the space unless it is one the heads and distributions handle."""
    problem = None
    if isinstance(action_space, gymnasium.spaces.Discrete):
        if int(action_space.start) != 0:
            problem = "Discrete spaces must start at 0"
    elif isinstance(action_space, gymnasium.spaces.Box):
        if len(action_space.shape) != 1:
            problem = "Box spaces must be 1-D"
    elif isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        if action_space.nvec.ndim != 1 or np.any(action_space.start != 0):
            problem = "MultiDiscrete spaces must be 1-D and start at 0"
    elif isinstance(action_space, gymnasium.spaces.MultiBinary):
        if len(action_space.shape) != 1:
            problem = "MultiBinary spaces must be 1-D"
    else:
        problem = f"{type(action_space).__name__} spaces are not supported"
    if problem:
        raise TypeError(f"unsupported action space {action_space}: {problem}; supported: {SUPPORTED_SPACES}")
