"""SAC settings per env type (dicts of `learn()` overrides), from the paper."""

from __future__ import annotations

from typing import Any


def mujoco() -> dict[str, Any]:
    """Haarnoja et al. 2018b ("Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905, table 1): Adam 3e-4,
    batch 256, 2 x 256 ReLU, tau 0.005, one update per step, alpha learned toward -dim(A), buffer 1e6; 10,000 steps
    of uniform random actions first (the authors' softlearning MuJoCo runs and rl-baselines3-zoo use 10,000)."""
    return dict(
        learning_starts=10_000,
        batch_size=256,
        learning_rate=3e-4,
        tau=0.005,
        gamma=0.99,
        ent_coef="auto",
        target_entropy="auto",
        num_layers=2,
        num_hidden=256,
        activation="relu",
    )
