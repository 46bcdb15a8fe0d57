"""baselines' path `baselines.common.tf_util`: re-exports `baselines_tf2.nn.tf_util` (the TensorFlow side).

baselines' TF1 helpers (sessions, placeholders, `function`, `initialize`, variable save/load) have no TF2
meaning: they are kept as names that raise NotImplementedError saying what to do instead.
"""

from typing import Any, NoReturn

from baselines_tf2.nn.tf_util import (  # noqa: F401
    AUTO_PRECISION,
    BF16_CPU_FLAGS,
    PRECISIONS,
    CompiledFunction,
    apply_if_finite,
    assign_variables,
    cpu_has_native_bf16,
    dtype_policy,
    float32_compute,
    resolve_precision,
    set_global_seeds,
)

__all__ = [
    'PRECISIONS', 'AUTO_PRECISION', 'BF16_CPU_FLAGS', 'cpu_has_native_bf16', 'resolve_precision', 'set_global_seeds',
    'dtype_policy', 'float32_compute', 'assign_variables', 'CompiledFunction', 'apply_if_finite', 'get_session',
    'make_session', 'single_threaded_session', 'in_session', 'initialize', 'function', 'get_placeholder',
    'get_placeholder_cached', 'save_variables', 'load_variables', 'save_state', 'load_state',
]

NO_SESSIONS = "TensorFlow 2 runs eagerly, without sessions: call ops and models directly"
NO_PLACEHOLDERS = ("TensorFlow 2 has no placeholders: pass arrays or tensors as arguments (keras.Input declares a "
                   "model's inputs)")
SAVE_MODELS = ("save and load with model.save(path) / learn(..., load_path=path) (baselines_tf2 checkpoints), or "
               "keras.Model.save_weights / load_weights")
THREADS = "set threads with tf.config.threading.set_intra_op_parallelism_threads / set_inter_op_parallelism_threads"


def _tf1_only(name: str, instead: str) -> NoReturn:
    raise NotImplementedError(f"baselines' tf_util.{name} is TensorFlow 1 only; {instead}")


def get_session(config: Any = None) -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no sessions)."""
    _tf1_only("get_session", NO_SESSIONS)


def make_session(config: Any = None, num_cpu: int | None = None, make_default: bool = False,
                 graph: Any = None) -> NoReturn:
    """TF1 only: raises NotImplementedError (no sessions; set thread counts with tf.config.threading)."""
    _tf1_only("make_session", f"{NO_SESSIONS}; {THREADS}")


def single_threaded_session() -> NoReturn:
    """TF1 only: raises NotImplementedError (no sessions; set thread counts with tf.config.threading)."""
    _tf1_only("single_threaded_session", f"{NO_SESSIONS}; {THREADS} (1 and 1)")


def in_session(f: Any) -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no sessions)."""
    _tf1_only("in_session", NO_SESSIONS)


def initialize() -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 variables are initialised when created)."""
    _tf1_only("initialize", "TensorFlow 2 initialises variables when they are created (a Keras model when built)")


def function(inputs: Any, outputs: Any, updates: Any = None, givens: Any = None) -> NoReturn:
    """TF1 only: raises NotImplementedError (decorate a Python function with tf.function instead)."""
    _tf1_only("function", "write a Python function of tensors and decorate it with @tf.function")


def get_placeholder(name: str, dtype: Any, shape: Any) -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no placeholders)."""
    _tf1_only("get_placeholder", NO_PLACEHOLDERS)


def get_placeholder_cached(name: str) -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no placeholders)."""
    _tf1_only("get_placeholder_cached", NO_PLACEHOLDERS)


def save_variables(save_path: str, variables: Any = None, sess: Any = None) -> NoReturn:
    """TF1 only (joblib pickles): raises NotImplementedError naming the checkpoint functions."""
    _tf1_only("save_variables", SAVE_MODELS)


def load_variables(load_path: str, variables: Any = None, sess: Any = None) -> NoReturn:
    """TF1 only (joblib pickles): raises NotImplementedError naming the checkpoint functions."""
    _tf1_only("load_variables", SAVE_MODELS)


def save_state(fname: str, sess: Any = None) -> NoReturn:
    """TF1 only (tf.train.Saver): raises NotImplementedError naming the checkpoint functions."""
    _tf1_only("save_state", SAVE_MODELS)


def load_state(fname: str, sess: Any = None) -> NoReturn:
    """TF1 only (tf.train.Saver): raises NotImplementedError naming the checkpoint functions."""
    _tf1_only("load_state", SAVE_MODELS)
