"""DQN hyperparameters per env type, as in baselines' deepq/defaults.py: dicts of `learn()` overrides."""

from __future__ import annotations

from typing import Any


def atari() -> dict[str, Any]:
    """baselines' Atari DQN: Nature convolutions (SAME padding), dueling head, prioritized replay."""
    return dict(
        network="conv_only",
        convs=[(32, 8, 4), (64, 4, 2), (64, 3, 1)],
        hiddens=[256],
        dueling=True,
        lr=1e-4,
        buffer_size=10000,
        exploration_fraction=0.1,
        exploration_final_eps=0.01,
        train_freq=4,
        learning_starts=10000,
        target_network_update_freq=1000,
        gamma=0.99,
        prioritized_replay=True,
        prioritized_replay_alpha=0.6,
        checkpoint_freq=10000,
        checkpoint_path=None,
    )


def retro() -> dict[str, Any]:
    """baselines' retro settings (same as Atari)."""
    return atari()
