"""Small NumPy helpers shared by the learners, and the rest of baselines' `common.math_util`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def discount(x: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted sums along axis 0: y[t] = x[t] + gamma * x[t+1] + gamma^2 * x[t+2] + ... (to the end)."""
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError("discount needs an array with at least one dimension")
    out = np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
    running = np.zeros(x.shape[1:], dtype=out.dtype)
    for t in reversed(range(len(x))):
        running = x[t] + gamma * running
        out[t] = running
    return out


def explained_variance(ypred: np.ndarray, y: np.ndarray) -> float:
    """1 - Var[y - ypred] / Var[y]: 1 is perfect, <= 0 no better than a constant; NaN if `y` is constant."""
    var_y = np.var(y)
    if var_y == 0:
        return float("nan")
    return float(1.0 - np.var(y - ypred) / var_y)


def explained_variance_2d(ypred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """explained_variance per column of 2-D arrays [N, k] -> [k]; a column whose target is constant gives 0.

    Each column's residual variance is its own; baselines pooled the residual variance over all columns.
    """
    ypred, y = np.asarray(ypred), np.asarray(y)
    if y.ndim != 2 or ypred.shape != y.shape:
        raise ValueError(f"explained_variance_2d needs two 2-D arrays of one shape, got {ypred.shape} and {y.shape}")
    var_y = np.var(y, axis=0)
    constant = var_y < 1e-10
    out = 1.0 - np.var(y - ypred, axis=0) / np.where(constant, 1.0, var_y)
    out[constant] = 0.0
    return out


def ncc(ypred: np.ndarray, y: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson's r) of two 1-D arrays."""
    return float(np.corrcoef(ypred, y)[1, 0])


def flatten_arrays(arrs: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays' elements concatenated into one 1-D array (C order)."""
    return np.concatenate([np.asarray(arr).ravel() for arr in arrs])


def unflatten_vector(vec: np.ndarray, shapes: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Inverse of flatten_arrays: consecutive slices of `vec` reshaped to `shapes`."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    if sum(sizes) != len(vec):
        raise ValueError(f"a vector of {len(vec)} elements does not fill shapes {list(shapes)} ({sum(sizes)})")
    offsets = np.cumsum([0, *sizes])
    return [vec[start:end].reshape(shape) for start, end, shape in zip(offsets[:-1], offsets[1:], shapes)]


def discount_with_boundaries(X: np.ndarray, New: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted sums along axis 0 that restart where `New[t]` marks the first step of an episode."""
    x = np.asarray(X)
    new = np.asarray(New)
    y = np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float32))  # integer rewards give float sums
    y[-1] = x[-1]
    for t in range(len(x) - 2, -1, -1):
        y[t] = x[t] + gamma * y[t + 1] * (1 - new[t + 1])
    return y


def discount_with_dones(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted returns of one env's reward sequence, restarting after each step whose `done` is set."""
    returns = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running * (1.0 - dones[t])
        returns[t] = running
    return returns
