"""TRPO hyperparameters per env type, as in baselines' trpo_mpi/defaults.py: dicts of `learn()` overrides."""

from __future__ import annotations

from typing import Any


def atari() -> dict[str, Any]:
    """baselines' Atari settings (the small Nature-style CNN, 512-step batches, gamma 0.98)."""
    return dict(
        network="cnn_small",
        timesteps_per_batch=512,
        max_kl=0.001,
        cg_iters=10,
        cg_damping=1e-3,
        gamma=0.98,
        lam=1.0,
        vf_iters=3,
        vf_stepsize=1e-4,
        entcoeff=0.00,
    )


def mujoco() -> dict[str, Any]:
    """baselines' MuJoCo settings (2 x 32 tanh MLP). baselines also passed normalize_observations=True, a second
    normalization inside the policy behind run.py's VecNormalize; the CLI's VecNormalize normalizes here."""
    return dict(
        network="mlp",
        num_hidden=32,
        num_layers=2,
        timesteps_per_batch=1024,
        max_kl=0.01,
        cg_iters=10,
        cg_damping=0.1,
        gamma=0.99,
        lam=0.98,
        vf_iters=5,
        vf_stepsize=1e-3,
    )
