"""The one place that configures TensorFlow for this library: seeds, threads, precision."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.training.checkpoint import CheckpointError

PRECISIONS = ("float32", "mixed_bfloat16")
AUTO_PRECISION = "auto"  # the CLI's default: bfloat16 on the CPUs where it was measured to pay, else float32
# /proc/cpuinfo flags that make `auto` pick bfloat16. Only AMX: bfloat16 was measured on an AMX CPU alone
# (docs/benchmarks.md); AVX-512 BF16 without AMX was never measured, so it gets float32.
BF16_CPU_FLAGS = ("amx_bf16",)
CPUINFO_PATH = "/proc/cpuinfo"


def cpu_has_native_bf16(cpuinfo_path: str = CPUINFO_PATH) -> bool:
    """Whether the CPU reports one of BF16_CPU_FLAGS (AMX bfloat16), the hardware `auto` trusts; False where unknown.

    Without bfloat16 instructions TensorFlow emulates them and mixed_bfloat16 runs slower than float32; with
    AVX-512 BF16 alone it was never measured, so it does not count here."""
    try:
        with open(cpuinfo_path, encoding="utf-8") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, cpuinfo_path: str = CPUINFO_PATH) -> str:
    """'auto' -> 'mixed_bfloat16' on CPUs with AMX (read from `cpuinfo_path`), else 'float32'; other valid names
    unchanged.

    Chosen by measurement on one AMX CPU (docs/benchmarks.md): bfloat16 sped up the PPO2 update there, and the
    equal-step learning runs showed no gross difference from float32 (a few seeds, not an equivalence test)."""
    if precision == AUTO_PRECISION:
        return "mixed_bfloat16" if cpu_has_native_bf16(cpuinfo_path) else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join((AUTO_PRECISION, *PRECISIONS))}")
    return precision


def rank_seed(seed: int | None, rank: int) -> int | None:
    """`seed + 1000 * rank`: baselines' seed for MPI rank `rank` (None stays None)."""
    return None if seed is None else seed + 1000 * rank


def set_global_seeds(seed: int | None, *, rank: int = 0, deterministic_ops: bool = False) -> int | None:
    """Seed Python, NumPy and TensorFlow with `rank_seed(seed, rank)`; return it."""
    effective = rank_seed(seed, rank)
    if effective is None:
        return None
    keras.utils.set_random_seed(effective)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    return effective


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build the layers created inside this block with Keras' `precision` policy ('float32' or 'mixed_bfloat16').

    With mixed_bfloat16, layers compute in bfloat16 (in hardware on CPUs with AMX) and keep float32 variables.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def float32_compute(model: keras.Layer) -> Iterator[None]:
    """Inside this block `model` and its sublayers compute in float32 (their variables are float32 already).

    Functions traced inside keep float32 compute after the block: for batch-1 inference under mixed_bfloat16,
    where casting every weight to bfloat16 on each call costs more than bfloat16 arithmetic saves.
    """
    layers = list(model._flatten_layers())
    policies = [layer.dtype_policy for layer in layers]
    for layer in layers:
        layer.dtype_policy = "float32"
    try:
        yield
    finally:
        for layer, policy in zip(layers, policies):
            layer.dtype_policy = policy


def assign_variables(variables: Sequence[tf.Variable], arrays: Sequence[np.ndarray], what: str) -> None:
    """Assign `arrays` to `variables` in order, or change nothing and raise ValueError naming the first mismatch."""
    if len(arrays) != len(variables):
        raise ValueError(f"{what}: got {len(arrays)} arrays for {len(variables)} variables")
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != tuple(np.shape(array)):
            raise ValueError(
                f"{what}: variable {variable.path!r} has shape {tuple(variable.shape)}, "
                f"the saved one {tuple(np.shape(array))}"
            )
    for variable, array in zip(variables, arrays):
        variable.assign(array)


def assign_checkpoint_arrays(variables: Sequence[tf.Variable], arrays: Sequence[np.ndarray], path: str,
                             what: str) -> None:
    """`assign_variables`, with a mismatch reported as the CheckpointError of the file at `path`."""
    try:
        assign_variables(variables, arrays, what)
    except ValueError as err:
        raise CheckpointError(f"{path!r} does not fit this model: {err}") from None


def flat_concat(tensors: Sequence[tf.Tensor]) -> tf.Tensor:
    """`tensors` flattened, cast to float32 and concatenated: one buffer, which MPI ranks average in one Allreduce."""
    return tf.concat([tf.reshape(tf.cast(tensor, tf.float32), [-1]) for tensor in tensors], 0)


def split_flat(buffer: tf.Tensor, shapes: Sequence[Sequence[int]]) -> list[tf.Tensor]:
    """Undo `flat_concat`: `buffer` cut into tensors of `shapes` (whose sizes add up to its length)."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    return [tf.reshape(piece, shape) for piece, shape in zip(tf.split(buffer, sizes), shapes)]


def flat_size(shapes: Sequence[Sequence[int]]) -> int:
    """The length of the `flat_concat` buffer of tensors of `shapes`."""
    return sum(int(np.prod(shape)) for shape in shapes)


class CompiledFunction:
    """`fn` as a tf.function with a fixed input signature, traced once now and called through its concrete
    function: no retracing is possible, and each call skips tf.function's argument matching (~3x less overhead
    per call, which matters when acting once per env step)."""

    def __init__(self, fn: Callable[..., Any], input_signature: Sequence[Any]) -> None:
        self.function = tf.function(fn, input_signature=input_signature)
        self.concrete = self.function.get_concrete_function()

    def __call__(self, *args: Any) -> Any:
        return self.concrete(*args)

    def experimental_get_tracing_count(self) -> int:
        """How many graphs were built (1 by construction; tests check it)."""
        return self.function.experimental_get_tracing_count()


def apply_if_finite(
    optimizer: keras.optimizers.Optimizer, gradients: Sequence[tf.Tensor], variables: Sequence[tf.Variable],
    loss: tf.Tensor, grad_norm: tf.Tensor,
) -> tf.Tensor:
    """Apply `gradients` only when `loss` and `grad_norm` are finite; 1.0 if the update was skipped, else 0.0.

    A skipped update leaves the weights and the optimizer's moments and step count as they were, so one bad
    minibatch (a NaN reward, an overflow) cannot poison the model."""
    finite = tf.logical_and(tf.reduce_all(tf.math.is_finite(loss)), tf.math.is_finite(grad_norm))

    def apply() -> tf.Tensor:
        optimizer.apply(gradients, variables)
        return tf.constant(0.0)

    return tf.cond(finite, apply, lambda: tf.constant(1.0))


def renamed_model(model: keras.Model, name: str) -> keras.Model:
    """The same layers under a new model name (two torsos both named 'mlp' cannot sit in one exported model)."""
    return keras.Model(model.inputs[0], model.outputs[0], name=name)


def argmax_int64(scores: Any) -> Any:
    """Index of the largest score along the last axis of a [B, n] Keras tensor, int64 (first on ties, as tf.argmax).

    top_k rather than ops.argmax: Keras' argmax adds a bitwise -0.0 fix-up that TFLite has no kernel for.
    """
    return keras.ops.cast(keras.ops.top_k(scores, k=1)[1][:, 0], "int64")
