"""Small NumPy helpers shared by the learners."""

from __future__ import annotations

import numpy as np


def explained_variance(predicted: np.ndarray, target: np.ndarray) -> float:
    """1 - Var[target - predicted] / Var[target]: 1 is perfect, <= 0 no better than a constant;
    NaN if target is constant."""
    target_var = np.var(target)
    if target_var == 0:
        return float("nan")
    return float(1.0 - np.var(target - predicted) / target_var)


def discount_with_dones(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted returns of one env's reward sequence, restarting after each step whose `done` is set."""
    returns = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running * (1.0 - dones[t])
        returns[t] = running
    return returns
