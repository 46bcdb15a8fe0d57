"""deepq learns the discrete identity task (fast). The CartPole threshold test lives elsewhere."""

from __future__ import annotations

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.bench import Monitor
from baselines_tf2.common.envs import DiscreteIdentityEnv
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.deepq import deepq
from baselines_tf2.tools.play import play_policy


def identity_env() -> Monitor:
    return Monitor(DiscreteIdentityEnv(dim=4, episode_length=20), None)


def test_deepq_learns_discrete_identity(tmp_path) -> None:
    # Stated hyperparameters: 3,000 steps (it already solves the task in ~1,000 for several seeds), one 32-unit
    # tanh layer + a 32-unit dueling head, Adam lr 1e-3, gamma 0.9 (episodes end by time limit, which deepq
    # bootstraps through, so gamma 1 would diverge), epsilon 1 -> 0.02 over the first 30 %, replay 5,000,
    # training from step 200, target sync every 100 steps, batch 32, double Q (default).
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        act = deepq.learn(
            identity_env(), "mlp", seed=0, total_timesteps=3000, lr=1e-3, gamma=0.9, buffer_size=5000,
            learning_starts=200, exploration_fraction=0.3, exploration_final_eps=0.02,
            target_network_update_freq=100, num_layers=1, num_hidden=32, hiddens=[32],
        )
        venv = DummyVecEnv([identity_env] * 4)
        venv.seed(1)
        scores = play_policy(act.policy, venv, 20, deterministic=True)
    assert len(scores) == 20
    assert np.mean(scores) >= 19.0, scores
