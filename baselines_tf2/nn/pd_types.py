"""baselines' `PdType` classes in TF2, as its tf2 branch had them: a layer from a latent to a distribution.

`make_pdtype(latent_shape, action_space, init_scale)` picks the class for the action space; its
`pdfromlatent(latent)` returns `(pd, flat_params)` (for a Gaussian `(pd, mean)`, as baselines') with the `Pd`
classes of `baselines_tf2.nn.distributions`.
As in baselines, a latent whose last dimension already equals the parameter size is used as the parameters
directly (no dense layer). The policies in `baselines_tf2.nn.policies` use `make_pd_head` / `make_pd` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.nn.distributions import (
    SUPPORTED_SPACES,
    BernoulliPd,
    CategoricalPd,
    DiagGaussianPd,
    MultiCategoricalPd,
    Pd,
)


class PdType(keras.layers.Layer):
    """latent [B, d] -> flat distribution parameters [B, param_size] through a dense layer (orthogonal init)."""

    pd_class: type

    def __init__(self, latent_shape: Sequence[int] | None, param_size: int, init_scale: float = 1.0,
                 init_bias: float = 0.0, **kwargs: Any) -> None:
        super().__init__(dtype="float32", **kwargs)  # float32 parameters under any precision (see make_pd_head)
        self.param_size = int(param_size)
        self.dense = self._matching_dense(latent_shape, self.param_size, init_scale, init_bias, "pi")
        self.initialization = (init_scale, init_bias)

    @staticmethod
    def _matching_dense(latent_shape: Sequence[int] | None, size: int, init_scale: float, init_bias: float,
                        name: str) -> keras.layers.Dense | None:
        """None when the latent already has `size` features (baselines' `_matching_fc`), else a dense layer."""
        if latent_shape is not None and int(latent_shape[-1]) == size:
            return None
        return keras.layers.Dense(size, kernel_initializer=keras.initializers.Orthogonal(gain=init_scale),
                                  bias_initializer=keras.initializers.Constant(init_bias), name=name,
                                  dtype="float32")

    def call(self, latent: tf.Tensor) -> tf.Tensor:
        latent = keras.ops.cast(latent, "float32")
        return latent if self.dense is None else self.dense(latent)

    def pdclass(self) -> type:
        """The `Pd` class this type builds."""
        return self.pd_class

    def pdfromlatent(self, latent_vector: tf.Tensor, init_scale: float | None = None,
                     init_bias: float | None = None) -> tuple[Pd, tf.Tensor]:
        """(distribution, flat parameters) for a latent [B, d]. `init_scale`/`init_bias` (baselines' TF1 call)
        set the dense layer's initialization before its first call; None keeps the constructor's."""
        self._initialize_as(init_scale, init_bias)
        params = self(latent_vector)
        return self.pdfromflat(params), params

    def _initialize_as(self, init_scale: float | None, init_bias: float | None) -> None:
        """Give the (not yet built) dense layer another initialization; refuse once it has weights."""
        wanted = (self.initialization[0] if init_scale is None else init_scale,
                  self.initialization[1] if init_bias is None else init_bias)
        if wanted == self.initialization or self.dense is None:  # baselines' _matching_fc ignored them too
            return
        if self.dense.built:
            raise ValueError(f"this {type(self).__name__} already has weights initialized with (init_scale, "
                             f"init_bias)={self.initialization}; give {wanted} at its first pdfromlatent call or "
                             "to its constructor")
        self.dense.kernel_initializer = keras.initializers.Orthogonal(gain=wanted[0])  # read when it is built
        self.dense.bias_initializer = keras.initializers.Constant(wanted[1])
        self.initialization = wanted

    def pdfromflat(self, flat: tf.Tensor) -> Pd:
        """The distribution from flat parameters [B, param_size]."""
        return self.pd_class(flat)

    def param_shape(self) -> list[int]:
        """Shape of one flat parameter vector."""
        return [self.param_size]

    def sample_shape(self) -> list[int]:
        """Shape of one action."""
        raise NotImplementedError

    def sample_dtype(self) -> tf.DType:
        """dtype of the actions (gymnasium's: int64 for discrete spaces, int8 for MultiBinary, float32 for Box)."""
        raise NotImplementedError


class CategoricalPdType(PdType):
    """Discrete(ncat): logits [B, ncat] -> CategoricalPd."""

    pd_class = CategoricalPd

    def __init__(self, latent_shape: Sequence[int] | None, ncat: int, init_scale: float = 1.0,
                 init_bias: float = 0.0, **kwargs: Any) -> None:
        super().__init__(latent_shape, ncat, init_scale, init_bias, **kwargs)
        self.ncat = int(ncat)

    def sample_shape(self) -> list[int]:
        """Shape of one action: a scalar index."""
        return []

    def sample_dtype(self) -> tf.DType:
        """int64, gymnasium's Discrete dtype."""
        return tf.int64


class MultiCategoricalPdType(PdType):
    """MultiDiscrete(nvec): concatenated logits [B, sum(nvec)] -> MultiCategoricalPd."""

    pd_class = MultiCategoricalPd

    def __init__(self, latent_shape: Sequence[int] | None, nvec: Sequence[int] | np.ndarray, init_scale: float = 1.0,
                 init_bias: float = 0.0, **kwargs: Any) -> None:
        self.nvec = np.asarray(nvec, dtype=np.int64)
        super().__init__(latent_shape, int(self.nvec.sum()), init_scale, init_bias, **kwargs)

    def pdfromflat(self, flat: tf.Tensor) -> Pd:
        """MultiCategoricalPd over the concatenated logits."""
        return MultiCategoricalPd(self.nvec, flat)

    def sample_shape(self) -> list[int]:
        """Shape of one action: one index per sub-space."""
        return [len(self.nvec)]

    def sample_dtype(self) -> tf.DType:
        """int64, gymnasium's MultiDiscrete dtype."""
        return tf.int64


class BernoulliPdType(PdType):
    """MultiBinary(size): logits [B, size] -> BernoulliPd."""

    pd_class = BernoulliPd

    def __init__(self, latent_shape: Sequence[int] | None, size: int, init_scale: float = 1.0,
                 init_bias: float = 0.0, **kwargs: Any) -> None:
        super().__init__(latent_shape, size, init_scale, init_bias, **kwargs)
        self.size = int(size)

    def sample_shape(self) -> list[int]:
        """Shape of one action: one bit per variable."""
        return [self.size]

    def sample_dtype(self) -> tf.DType:
        """int8, gymnasium's MultiBinary dtype."""
        return tf.int8


class DiagGaussianPdType(PdType):
    """Box(size): flat [mean, logstd] [B, 2 * size] -> DiagGaussianPd; logstd is one trainable vector, zeros first."""

    pd_class = DiagGaussianPd

    def __init__(self, latent_shape: Sequence[int] | None, size: int, init_scale: float = 1.0,
                 init_bias: float = 0.0, **kwargs: Any) -> None:
        keras.layers.Layer.__init__(self, dtype="float32", **kwargs)
        self.size = int(size)
        self.param_size = 2 * self.size
        self.dense = self._matching_dense(latent_shape, self.size, init_scale, init_bias, "pi_mean")
        self.initialization = (init_scale, init_bias)
        self.logstd = self.add_weight(shape=(self.size,), initializer="zeros", name="pi_logstd")

    def pdfromlatent(self, latent_vector: tf.Tensor, init_scale: float | None = None,
                     init_bias: float | None = None) -> tuple[Pd, tf.Tensor]:
        """(distribution, mean) for a latent [B, d]: the second item is the mean action, as baselines'."""
        pd, params = super().pdfromlatent(latent_vector, init_scale, init_bias)
        return pd, params[..., :self.size]

    def call(self, latent: tf.Tensor) -> tf.Tensor:
        mean = super().call(latent)
        return keras.ops.concatenate([mean, keras.ops.zeros_like(mean) + self.logstd], axis=-1)

    def pdfromflat(self, flat: tf.Tensor) -> Pd:
        """DiagGaussianPd from [mean, logstd] concatenated on the last axis."""
        mean, logstd = tf.split(flat, 2, axis=-1)
        return DiagGaussianPd(mean, logstd)

    def sample_shape(self) -> list[int]:
        """Shape of one action."""
        return [self.size]

    def sample_dtype(self) -> tf.DType:
        """float32."""
        return tf.float32


def make_pdtype(latent_shape: Sequence[int] | gymnasium.Space | None, ac_space: gymnasium.Space | None = None,
                init_scale: float = 1.0) -> PdType:
    """The PdType for `ac_space` (baselines' tf2 signature); `make_pdtype(ac_space)`, baselines' TF1 form, also works.

    Discrete -> CategoricalPdType, MultiDiscrete -> MultiCategoricalPdType, MultiBinary -> BernoulliPdType,
    1-D Box -> DiagGaussianPdType; anything else raises TypeError.
    """
    if ac_space is None and isinstance(latent_shape, gymnasium.Space):
        latent_shape, ac_space = None, latent_shape
    if isinstance(latent_shape, gymnasium.Space) or ac_space is None:
        raise TypeError("call make_pdtype(latent_shape, ac_space, init_scale) or make_pdtype(ac_space)")
    if isinstance(ac_space, gymnasium.spaces.Discrete) and int(ac_space.start) == 0:
        return CategoricalPdType(latent_shape, int(ac_space.n), init_scale)
    if isinstance(ac_space, gymnasium.spaces.MultiDiscrete) and ac_space.nvec.ndim == 1 and not np.any(ac_space.start):
        return MultiCategoricalPdType(latent_shape, ac_space.nvec, init_scale)
    if isinstance(ac_space, gymnasium.spaces.MultiBinary) and len(ac_space.shape) == 1:
        return BernoulliPdType(latent_shape, int(ac_space.shape[0]), init_scale)
    if isinstance(ac_space, gymnasium.spaces.Box) and len(ac_space.shape) == 1:
        return DiagGaussianPdType(latent_shape, int(ac_space.shape[0]), init_scale)
    raise TypeError(f"no PdType for action space {ac_space}; supported: {SUPPORTED_SPACES}")
