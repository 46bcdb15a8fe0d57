"""baselines' path `baselines.a2c.utils`: A2C's schedules, episode statistics and small tensor helpers.

The NumPy helpers behave as baselines'; the tensor helpers are eager TensorFlow 2 ops with baselines' semantics.
The TF1 layer builders (`conv`, `fc`, `lstm`, `lnlstm`) and `find_trainable_variables` created variables in
`tf.variable_scope`, which TensorFlow 2 does not have: they raise NotImplementedError naming the Keras way.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Callable, NoReturn, Sequence

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.math_util import discount_with_dones
from baselines_tf2.common.validation import require_choice

__all__ = [
    "sample", "cat_entropy", "cat_entropy_softmax", "mse", "ortho_init", "conv", "fc", "batch_to_seq",
    "seq_to_batch", "lstm", "lnlstm", "conv_to_fc", "discount_with_dones", "find_trainable_variables", "make_path",
    "constant", "linear", "middle_drop", "double_linear_con", "double_middle_drop", "schedules", "Scheduler",
    "EpisodeStats", "get_by_index", "check_shape", "avg_norm", "gradient_add", "q_explained_variance",
]


def _tf1_only(name: str, instead: str) -> NoReturn:
    raise NotImplementedError(f"baselines' a2c.utils.{name} is TensorFlow 1 only (tf.variable_scope); {instead}")


# ---- tensor helpers ----------------------------------------------------------------------------------------


def sample(logits: tf.Tensor) -> tf.Tensor:
    """One action index per row of `logits` [B, n], drawn by the Gumbel-max trick (int64 [B])."""
    logits = tf.convert_to_tensor(logits)
    noise = tf.random.uniform(tf.shape(logits), dtype=logits.dtype)
    return tf.argmax(logits - tf.math.log(-tf.math.log(noise)), axis=1)


def cat_entropy(logits: tf.Tensor) -> tf.Tensor:
    """Entropy of the categorical distribution softmax(logits) per row [B, n] -> [B]."""
    log_probs = tf.nn.log_softmax(logits, axis=1)
    return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=1)


def cat_entropy_softmax(p0: tf.Tensor) -> tf.Tensor:
    """Entropy of categorical probabilities per row [B, n] -> [B], with baselines' 1e-6 inside the log."""
    return -tf.reduce_sum(p0 * tf.math.log(p0 + 1e-6), axis=1)


def mse(pred: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Half the squared error, element-wise (not averaged)."""
    return tf.square(pred - target) / 2.0


def conv_to_fc(x: tf.Tensor) -> tf.Tensor:
    """Flatten every axis but the first: [B, ...] -> [B, prod(...)]."""
    x = tf.convert_to_tensor(x)
    size = x.shape[1:].num_elements()
    return tf.reshape(x, [-1, size if size is not None else tf.reduce_prod(tf.shape(x)[1:])])


def batch_to_seq(h: tf.Tensor, nbatch: int, nsteps: int, flat: bool = False) -> list[tf.Tensor]:
    """Rows ordered env-major (row = env * nsteps + step) -> a list of `nsteps` tensors [nbatch, ...], one per step.

    `nbatch` is the number of environments (baselines' name); `flat` is for one value per row ([nbatch] per step).
    """
    h = tf.reshape(h, [nbatch, nsteps] if flat else [nbatch, nsteps, -1])
    return tf.unstack(h, num=nsteps, axis=1)


def seq_to_batch(h: Sequence[tf.Tensor], flat: bool = False) -> tf.Tensor:
    """Inverse of batch_to_seq: a list of per-step tensors [nbatch, nh] -> [nbatch * nsteps, nh], env-major."""
    if flat:
        return tf.reshape(tf.stack(h, axis=1), [-1])
    if len(h[0].shape) < 2:
        raise ValueError(f"seq_to_batch needs per-step tensors [nbatch, nh], got shape {h[0].shape}; "
                         "pass flat=True for [nbatch]")
    return tf.reshape(tf.stack(h, axis=1), [-1, h[0].shape[-1]])


def get_by_index(x: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
    """x[i, idx[i]] for each row i of a 2-D `x` (ACER's Q(s, a) lookup)."""
    x, idx = tf.convert_to_tensor(x), tf.convert_to_tensor(idx)
    if len(x.shape) != 2 or len(idx.shape) != 1:
        raise ValueError(f"get_by_index needs x [B, n] and idx [B], got {x.shape} and {idx.shape}")
    return tf.gather(x, idx, batch_dims=1)


def check_shape(ts: Sequence[tf.Tensor], shapes: Sequence[list[int]]) -> None:
    """Raise ValueError unless each tensor's static shape equals its listed shape."""
    for i, (t, shape) in enumerate(zip(ts, shapes)):
        if tf.TensorShape(t.shape).as_list() != shape:
            raise ValueError(f"tensor {i} has shape {t.shape}, expected {shape}")


def avg_norm(t: tf.Tensor) -> tf.Tensor:
    """Mean over rows of the Euclidean norm along the last axis."""
    return tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(t), axis=-1)))


def gradient_add(g1: tf.Tensor | None, g2: tf.Tensor | None, param: tf.Variable) -> tf.Tensor:
    """g1 + g2, where a missing (None) gradient counts as zero; both missing is an error."""
    if g1 is None and g2 is None:
        raise ValueError(f"gradient_add: neither gradient reaches {param.name}")
    if g1 is None:
        return g2
    if g2 is None:
        return g1
    return g1 + g2


def q_explained_variance(qpred: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
    """1 - Var[q - qpred] / Var[q], variances over all entries of 2-D Q-value tensors."""
    q = tf.convert_to_tensor(q)
    if len(q.shape) != 2:
        raise ValueError(f"q_explained_variance needs 2-D Q values, got shape {q.shape}")
    _, var_q = tf.nn.moments(q, axes=[0, 1])
    _, var_residual = tf.nn.moments(q - qpred, axes=[0, 1])
    return 1.0 - var_residual / var_q


# ---- initializer and the TF1 layer builders ----------------------------------------------------------------


@keras.saving.register_keras_serializable(package="baselines_tf2")
class _OrthoInit(keras.initializers.Initializer):
    """baselines' orthogonal initializer: `scale` times a random orthogonal matrix (orthonormal rows or columns,
    whichever are fewer)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, shape: Sequence[int], dtype: Any = None, partition_info: Any = None) -> np.ndarray:
        shape = tuple(int(dim) for dim in shape)
        if len(shape) < 2:
            raise ValueError(f"ortho_init needs a kernel of rank 2 or more, got shape {shape}")
        # a conv kernel (h, w, in, out) is orthogonal as a (h * w * in, out) matrix, as in baselines (which
        # refused ranks other than 2 and 4; a Conv1D or Conv3D kernel is flattened the same way here)
        rows, columns = int(np.prod(shape[:-1])), shape[-1]
        # np.random, as baselines: keras.utils.set_random_seed (set_global_seeds) seeds it. Q of a Gaussian matrix,
        # its columns' signs fixed by R's diagonal, is uniformly distributed over the orthogonal matrices.
        gaussian = np.random.normal(0.0, 1.0, (max(rows, columns), min(rows, columns)))
        q, r = np.linalg.qr(gaussian)
        orthogonal = q * np.sign(np.diag(r))
        if rows < columns:
            orthogonal = orthogonal.T
        numpy_dtype = np.float32 if dtype is None else tf.as_dtype(dtype).as_numpy_dtype
        return (self.scale * orthogonal.reshape(shape)).astype(numpy_dtype)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale}


def ortho_init(scale: float = 1.0) -> keras.initializers.Initializer:
    """Orthogonal initializer `(shape, dtype=None, partition_info=None) -> np.ndarray`, also a Keras initializer."""
    return _OrthoInit(scale)


def conv(x: Any, scope: str, *, nf: int | None = None, rf: int | None = None, stride: int | None = None,
         pad: str = "VALID", init_scale: float = 1.0, data_format: str = "NHWC",
         one_dim_bias: bool = False) -> NoReturn:
    """TF1 only: raises NotImplementedError (use keras.layers.Conv2D with ortho_init)."""
    # nf, rf and stride default to None (baselines required them) so that any call reaches the message
    _tf1_only("conv", "use keras.layers.Conv2D(filters=nf, kernel_size=rf, strides=stride, padding=pad.lower(), "
                      "kernel_initializer=ortho_init(init_scale))")


def fc(x: Any, scope: str, nh: int, *, init_scale: float = 1.0, init_bias: float = 0.0) -> NoReturn:
    """TF1 only: raises NotImplementedError (use keras.layers.Dense with ortho_init)."""
    _tf1_only("fc", "use keras.layers.Dense(nh, kernel_initializer=ortho_init(init_scale), "
                    "bias_initializer=keras.initializers.Constant(init_bias))")


def lstm(xs: Any, ms: Any, s: Any, scope: str, nh: int, init_scale: float = 1.0) -> NoReturn:
    """TF1 only: raises NotImplementedError (use baselines_tf2.common.models.MaskedLSTM)."""
    _tf1_only("lstm", "use baselines_tf2.common.models.MaskedLSTM(input_dim, nh), which zeroes the state where "
                      "masks are 1 as this did (keras.layers.LSTM does not), or network='lstm' / 'cnn_lstm'")


def lnlstm(xs: Any, ms: Any, s: Any, scope: str, nh: int, init_scale: float = 1.0) -> NoReturn:
    """TF1 only: raises NotImplementedError (use baselines_tf2.common.models.MaskedLSTM with layer_norm=True)."""
    _tf1_only("lnlstm", "use baselines_tf2.common.models.MaskedLSTM(input_dim, nh, layer_norm=True), which zeroes "
                        "the state where masks are 1 as this did, or network='cnn_lnlstm'")


def find_trainable_variables(key: str) -> NoReturn:
    """TF1 only: raises NotImplementedError (a Keras model lists its own: model.trainable_variables)."""
    _tf1_only("find_trainable_variables", "a Keras model or layer lists its own variables: "
                                          "model.trainable_variables")


# ---- files, schedules and episode statistics (NumPy) -------------------------------------------------------


def make_path(f: str | os.PathLike[str]) -> None:
    """Create directory `f` and its parents; an existing directory is fine."""
    os.makedirs(f, exist_ok=True)


def constant(p: float) -> float:
    """Multiplier 1 at every progress `p` (0 -> 1)."""
    return 1.0


def linear(p: float) -> float:
    """Multiplier 1 - p: from 1 at the start to 0 at the end."""
    return 1.0 - p


def middle_drop(p: float) -> float:
    """1 - p until a quarter of training has passed, then 0.075."""
    remaining = 1.0 - p
    return 0.075 if remaining < 0.75 else remaining


def double_linear_con(p: float) -> float:
    """1 - 2p, held at 0.125 once it falls below that."""
    return max(1.0 - 2.0 * p, 0.125)


def double_middle_drop(p: float) -> float:
    """1 - p, then 0.075 once 1 - p < 0.75, then 0.125 once 1 - p < 0.25."""
    remaining = 1.0 - p
    if remaining < 0.25:
        return 0.125
    if remaining < 0.75:
        return 0.075
    return remaining


schedules: dict[str, Callable[[float], float]] = {
    "constant": constant,
    "linear": linear,
    "middle_drop": middle_drop,
    "double_linear_con": double_linear_con,
    "double_middle_drop": double_middle_drop,
}


class Scheduler:
    """`v` times a named schedule of the progress n / nvalues; `value()` reads it at n, then counts one step."""

    def __init__(self, v: float, nvalues: float, schedule: str) -> None:
        require_choice("schedule", schedule, list(schedules))
        self.v, self.nvalues, self.schedule = v, nvalues, schedules[schedule]
        self.n = 0.0

    def value_steps(self, steps: float) -> float:
        """The value after `steps` steps, without counting any."""
        return self.v * self.schedule(steps / self.nvalues)

    def value(self) -> float:
        """The value at the current step; then one step is counted."""
        current = self.value_steps(self.n)
        self.n += 1.0
        return current


class EpisodeStats:
    """Length and total reward of the last 40 finished episodes, from env-major [nenvs * nsteps] batches."""

    def __init__(self, nsteps: int, nenvs: int) -> None:
        self.episode_rewards: list[list[float]] = [[] for _ in range(nenvs)]
        self.lenbuffer: deque[int] = deque(maxlen=40)
        self.rewbuffer: deque[float] = deque(maxlen=40)
        self.nsteps = nsteps
        self.nenvs = nenvs

    def feed(self, rewards: np.ndarray, masks: np.ndarray) -> None:
        """Add one env-major batch; a true mask ends that env's episode with its step's reward."""
        rewards = np.reshape(rewards, (self.nenvs, self.nsteps))
        ends = np.reshape(masks, (self.nenvs, self.nsteps)).astype(bool)
        for env in range(self.nenvs):
            start = 0
            for end in np.flatnonzero(ends[env]):
                episode = [*self.episode_rewards[env], *rewards[env, start:end + 1]]
                self.lenbuffer.append(len(episode))
                self.rewbuffer.append(sum(episode))
                self.episode_rewards[env], start = [], end + 1
            self.episode_rewards[env].extend(rewards[env, start:])

    def mean_length(self) -> float:
        """Mean length of the recent finished episodes; 0 before any has finished."""
        return float(np.mean(self.lenbuffer)) if self.lenbuffer else 0

    def mean_reward(self) -> float:
        """Mean total reward of the recent finished episodes; 0 before any has finished."""
        return float(np.mean(self.rewbuffer)) if self.rewbuffer else 0
