"""PPO2 hyperparameters per env type, as in baselines' defaults.py: dicts of `learn()` overrides."""

from __future__ import annotations

from typing import Any

from baselines_tf2.common.schedules import FractionLinear


def atari() -> dict[str, Any]:
    """The original baselines Atari settings: 8 envs x 128 steps, lr and clip range annealed to 0."""
    return dict(
        nsteps=128,
        nminibatches=4,
        lam=0.95,
        gamma=0.99,
        noptepochs=4,
        log_interval=1,
        ent_coef=0.01,
        lr=FractionLinear(2.5e-4),
        cliprange=FractionLinear(0.1),
    )


def mujoco() -> dict[str, Any]:
    """baselines' MuJoCo settings (one million steps, observations normalised by the CLI's VecNormalize)."""
    return dict(
        nsteps=2048,
        nminibatches=32,
        lam=0.95,
        gamma=0.99,
        noptepochs=10,
        log_interval=1,
        ent_coef=0.0,
        lr=FractionLinear(3e-4),
        cliprange=0.2,
        value_network="copy",
    )


def retro() -> dict[str, Any]:
    """baselines' retro settings: the Atari ones (128 steps per env, lr and clip range annealed to 0)."""
    return atari()
