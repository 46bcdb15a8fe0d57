"""The one place that configures TensorFlow for this library: seeds, threads, precision."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

PRECISIONS = ("float32", "mixed_bfloat16")


def set_global_seeds(seed: int | None, *, rank: int = 0, deterministic_ops: bool = False) -> int | None:
    """Seed Python, NumPy and TensorFlow with `seed + 1000 * rank` (baselines' MPI convention); return it."""
    if seed is None:
        return None
    effective = seed + 1000 * rank
    keras.utils.set_random_seed(effective)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    return effective


def configure_threads(intra_op: int | None = None, inter_op: int | None = None) -> None:
    """Set TensorFlow's thread pools (before the first op runs); None leaves TensorFlow's choice."""
    try:
        if intra_op is not None:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op is not None:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # already initialised: the settings in force stay
        pass


def set_precision(precision: str) -> None:
    """Select Keras' global dtype policy for layers built after this call ('float32' or 'mixed_bfloat16')."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    keras.mixed_precision.set_dtype_policy(precision)



def assign_variables(variables: Sequence[tf.Variable], arrays: Sequence[np.ndarray], what: str) -> None:
    """Assign `arrays` to `variables` in order, or change nothing and raise ValueError naming the first mismatch."""
    if len(arrays) != len(variables):
        raise ValueError(f"{what}: got {len(arrays)} arrays for {len(variables)} variables")
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != tuple(np.shape(array)):
            raise ValueError(
                f"{what}: variable {variable.path!r} has shape {tuple(variable.shape)}, the saved one {tuple(np.shape(array))}"
            )
    for variable, array in zip(variables, arrays):
        variable.assign(array)
