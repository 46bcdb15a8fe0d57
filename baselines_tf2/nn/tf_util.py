"""The one place that configures TensorFlow for this library: seeds, threads, precision."""

from __future__ import annotations

import contextlib
import math
import re
import reprlib
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

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
    _check_fit(variables, arrays, what)
    for variable, array in zip(variables, arrays):
        variable.assign(array)


def _check_fit(variables: Sequence[tf.Variable], arrays: Sequence[np.ndarray], what: str) -> None:
    """ValueError naming the first way `arrays` do not fit `variables` (their count, then each shape)."""
    if len(arrays) != len(variables):
        raise ValueError(f"{what}: got {len(arrays)} arrays for {len(variables)} variables")
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != tuple(np.shape(array)):
            raise ValueError(
                f"{what}: variable {variable.path!r} has shape {tuple(variable.shape)}, "
                f"the saved one {tuple(np.shape(array))}"
            )


def assign_checkpoint_groups(groups: Sequence[tuple[Sequence[tf.Variable], Sequence[np.ndarray], str]],
                             path: str) -> None:
    """Assign each (variables, arrays, what) group once all fit, so a mismatch anywhere changes nothing; it is
    reported as the CheckpointError of the file at `path`."""
    try:
        for variables, arrays, what in groups:
            _check_fit(variables, arrays, what)
    except ValueError as err:
        raise CheckpointError(f"{path!r} does not fit this model: {err}") from None
    for variables, arrays, _ in groups:
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


def clip_gradients_per_variable(gradients: list[tf.Tensor], max_norm: float) -> tuple[list[tf.Tensor], tf.Tensor]:
    """(each variable's gradient rescaled to norm <= max_norm, the global norm before clipping): baselines' deepq
    clipping and its flatgrad's `clip_norm` (DDPG); each gradient's norm is computed once for both."""
    norms = [tf.norm(gradient) for gradient in gradients]
    clipped = [
        gradient * tf.minimum(1.0, max_norm / tf.maximum(norm, 1e-30)) for gradient, norm in zip(gradients, norms)
    ]
    return clipped, tf.sqrt(tf.add_n([tf.square(norm) for norm in norms]))


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


# ---- bounding a network that a checkpoint's metadata describes, before it is built ---------------------------

# Variables and values a build may create besides the weights a checkpoint stores (e.g. a Dropout's seed state), so
# that they never make a genuine file look too small; the exact comparison counts the built models' weights only.
_SPARE_VARIABLES = 16
_SPARE_ELEMENTS = 1024
_KERAS_DEFERRED_REGISTER = "uninitialized_variables"  # Keras 3's global list of variables awaiting initialisation
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # Keras colours the messages of errors raised inside a layer call


class _BeyondTheFile(Exception):
    """A bounded build outgrew its checkpoint. Keras may re-raise it as a new instance with a longer message, so only
    the class is relied on (the register holds the counts)."""


class _BoundedRegister(list):  # Keras appends its Variables to it; their shapes are all that is read
    """Stands in for Keras' register of deferred variables during a bounded build: counts what is created and stops
    the build as soon as it holds more than `max_variables` variables or `max_elements` values."""

    def __init__(self, max_variables: int, max_elements: int) -> None:
        super().__init__()
        self.max_variables = max_variables
        self.max_elements = max_elements
        self.elements = 0

    def append(self, variable: Any) -> None:
        super().append(variable)
        self.elements += math.prod(variable.shape)
        if self.outgrown:  # raised on every variable from here on, so a build that catches one still stops
            raise _BeyondTheFile(f"{len(self)} variables of {self.elements} values")

    @property
    def outgrown(self) -> bool:
        return len(self) > self.max_variables or self.elements > self.max_elements


@contextlib.contextmanager
def _keras_deferred_register(register: list[Any]) -> Iterator[None]:
    """Make `register` Keras' list of deferred variables inside the block; put the previous list back after it.

    Private Keras API (keras.src, checked with Keras 3.15), used nowhere else: variables created inside
    `keras.StatelessScope(initialize_variables=False)` are only appended to this list, and the next StatelessScope
    to close outside any other (Keras opens one for every symbolic layer call) would initialise, i.e. allocate,
    every variable in it. Swapping the list drops the bounded build's variables from Keras' reach.
    tests/test_hostile_checkpoints.py::test_keras_still_defers_variables_where_the_bound_expects fails if Keras
    changes this."""
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute(_KERAS_DEFERRED_REGISTER)
    global_state.set_global_attribute(_KERAS_DEFERRED_REGISTER, register)
    try:
        yield
    finally:
        global_state.set_global_attribute(_KERAS_DEFERRED_REGISTER, previous)


def check_network_fits_checkpoint(
    build: Callable[[], Sequence[keras.Layer]], metadata: Mapping[str, Any], where: str, group: str = "policy"
) -> None:
    """CheckpointError unless the models `build` makes from a checkpoint's metadata hold no more weights than the
    file's array group `group` does, in no more arrays, and `build` fails for no other reason (kwargs of the wrong
    type or range, an unknown network).

    `build` runs with deferred initialisation (variables get shapes, no memory), stops as soon as it outgrows the
    file, and leaves no variable behind, so a forged network of any size costs neither memory nor time. It must
    create its variables without running them (Keras placeholders, not eager tensors)."""
    entries = metadata.get("arrays", {}).get(group, [])
    stored = sum(math.prod(entry["shape"]) for entry in entries)
    network = _describe_network(metadata)
    name = reprlib.repr(metadata.get("network"))
    # Each item of a list argument of a network (conv_only's convs, impala_cnn's depths, the Q head's hiddens) makes
    # at least one weight array, and a builder may make all its layers before their first variable (QNetwork does),
    # which the register below cannot stop: millions of layers cost memory and minutes without a single variable.
    kwargs = metadata.get("network_kwargs")
    longest = max((len(value) for value in kwargs.values() if isinstance(value, list)), default=0) \
        if isinstance(kwargs, dict) else 0
    if longest > len(entries):
        raise CheckpointError(f"{where}: the file does not fit network {name}: the metadata's network ({network}) "
                              f"takes a list of {longest} layers, more than the {len(entries)} arrays the file's "
                              f"{group!r} group stores")
    register = _BoundedRegister(len(entries) + _SPARE_VARIABLES, stored + _SPARE_ELEMENTS)
    models: Sequence[keras.Layer] = ()
    failure: Exception | None = None
    try:
        with warnings.catch_warnings(), _keras_deferred_register(register), \
                keras.StatelessScope(initialize_variables=False):
            warnings.simplefilter("ignore")  # Keras warns of each layer whose build it retries after _BeyondTheFile
            models = build()
    except Exception as err:  # the metadata's kwargs reach builder and Keras code, which raise what they like
        failure = err
    if register.outgrown:  # whatever Keras made of _BeyondTheFile on its way out
        raise CheckpointError(
            f"{where}: the file does not fit network {name}: the metadata's network ({network}) would hold more than "
            f"the file stores: its first {len(register)} arrays alone hold {_amount(register.elements)} parameters; "
            f"the file's {group!r} group stores {_amount(stored)} in {len(entries)} arrays"
        )
    if failure is not None:
        raise CheckpointError(f"{where}: cannot rebuild the metadata's network ({network}): {_one_line(failure)}")
    weights = [weight for model in models for weight in model.weights]
    parameters = sum(math.prod(weight.shape) for weight in weights)
    if parameters > stored or len(weights) > len(entries):
        raise CheckpointError(
            f"{where}: the file does not fit network {name}: the metadata's network ({network}) would hold "
            f"{_amount(parameters)} parameters in {len(weights)} arrays; the file's {group!r} group stores "
            f"{_amount(stored)} in {len(entries)}"
        )


def _describe_network(metadata: Mapping[str, Any]) -> str:
    """'mlp, num_hidden=64, num_layers=2': the network a checkpoint names, its untrusted values cut short."""
    kwargs = metadata.get("network_kwargs")
    items = [f"{_name(key)}={reprlib.repr(value)}" for key, value in kwargs.items()] if isinstance(kwargs, dict) else []
    return ", ".join([_name(metadata.get("network")), *items])


def _name(value: Any) -> str:
    """A name from untrusted metadata: as is when it looks like one, else a short repr (no line breaks)."""
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 40 else reprlib.repr(value)


def _amount(count: int) -> str:
    """4,610 or, past a billion, 1.2e+19."""
    return f"{count:,}" if count < 10**9 else f"{count:.1e}"


def _one_line(err: Exception) -> str:
    """An exception as one short line (Keras' messages span lines, with colours)."""
    text = " ".join(_ANSI_ESCAPE.sub("", str(err)).split())
    return f"{type(err).__name__}: {text[:300]}"
