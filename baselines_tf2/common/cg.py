"""Conjugate gradient for a symmetric positive-definite operator given as a function, as baselines' common.cg.

TRPO solves F x = g with F the Fisher matrix, known only through Fisher-vector products, so the matrix is never
formed. NumPy only: the products may be averaged over MPI ranks between iterations.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def cg(f_Ax: Callable[[np.ndarray], np.ndarray], b: np.ndarray, cg_iters: int = 10,
       callback: Callable[[np.ndarray], None] | None = None, verbose: bool = False,
       residual_tol: float = 1e-10) -> np.ndarray:
    """x with A x ~= b after at most `cg_iters` iterations from x = 0 (Hestenes and Stiefel), stopping early once
    the squared residual is below `residual_tol` (after at least one iteration); `callback(x)` sees every iterate."""
    x = np.zeros_like(b)
    residual = b.copy()  # b - A x at x = 0
    direction = residual.copy()
    residual_sq = residual.dot(residual)
    if verbose:
        print(f"{'iter':>10} {'residual norm':>14} {'soln norm':>12}")
    for iteration in range(cg_iters):
        if callback is not None:
            callback(x)
        if verbose:
            print(f"{iteration:10d} {residual_sq:14.6g} {np.linalg.norm(x):12.6g}")
        a_direction = f_Ax(direction)
        curvature = direction.dot(a_direction)
        if not curvature > 0:  # A is not positive definite along this direction (or a product was not finite)
            break
        step = residual_sq / curvature
        x += step * direction
        residual -= step * a_direction
        new_residual_sq = residual.dot(residual)
        direction = residual + (new_residual_sq / residual_sq) * direction
        residual_sq = new_residual_sq
        if residual_sq < residual_tol:  # checked after each step, as baselines: a tiny b still gets one
            break
    if callback is not None:
        callback(x)
    return x
