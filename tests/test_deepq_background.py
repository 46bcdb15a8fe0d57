"""deepq's train_in_background: the same batches and gradient steps as training in line; only acting overlaps."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import logger
from baselines_tf2.bench import Monitor
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.deepq import deepq


def trained_weights(tmp_path: Path, *, train_in_background: bool, prioritized_replay: bool,
                    total_timesteps: int = 1200) -> list[np.ndarray]:
    """Weights after a short run whose actions are all random (epsilon 1), so acting cannot tell the modes apart."""
    venv = DummyVecEnv([lambda: Monitor(gymnasium.make("CartPole-v1"), None)])
    venv.seed(0)
    with logger.scoped_configure(str(tmp_path / f"{train_in_background}-{total_timesteps}"), ["csv"]):
        act = deepq.learn(venv, "mlp", seed=0, total_timesteps=total_timesteps,
                          learning_starts=100, train_freq=4, target_network_update_freq=200, batch_size=32,
                          exploration_fraction=1.0, exploration_final_eps=1.0, prioritized_replay=prioritized_replay,
                          checkpoint_freq=100_000, train_in_background=train_in_background, num_hidden=16)
    return [np.asarray(weights) for weights in act.model.q_network.get_weights()]


@pytest.mark.parametrize("prioritized_replay", [False, True], ids=["uniform", "prioritized"])
def test_background_training_takes_the_same_steps_as_training_in_line(tmp_path: Path, prioritized_replay: bool) -> None:
    in_line = trained_weights(tmp_path, train_in_background=False, prioritized_replay=prioritized_replay)
    background = trained_weights(tmp_path, train_in_background=True, prioritized_replay=prioritized_replay)
    for expected, actual in zip(in_line, background, strict=True):
        np.testing.assert_array_equal(actual, expected)
    initial = trained_weights(tmp_path, train_in_background=False, prioritized_replay=prioritized_replay,
                              total_timesteps=0)
    assert any(not np.array_equal(trained, start) for trained, start in zip(in_line, initial, strict=True)), (
        "the runs must have trained, or their equality shows nothing")


def test_background_training_is_refused_with_deterministic() -> None:
    with pytest.raises(ValueError, match="train_in_background.*deterministic"):
        deepq.learn(gymnasium.make("CartPole-v1"), "mlp", seed=0, total_timesteps=10, deterministic=True,
                    train_in_background=True)
