"""The training core's handling of a step budget smaller than one iteration (baselines trained nothing, silently)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import pytest

from baselines_tf2 import logger
from baselines_tf2.a2c import a2c
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.ppo2 import ppo2

LEARNERS = {"a2c": a2c.learn, "ppo2": ppo2.learn}


@pytest.mark.parametrize("alg", sorted(LEARNERS))
def test_a_budget_below_one_rollout_is_warned_about_and_zero_is_not(alg: str, tmp_path: Path) -> None:
    """`total_timesteps` under nsteps x envs trains nothing (as in baselines): the log says so and what would train;
    0, baselines' way to build a model without training it, is not warned about."""
    for total, folder in ((50, tmp_path / "short"), (0, tmp_path / "zero")):
        env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
        with logger.scoped_configure(str(folder), ["log"]):
            model = LEARNERS[alg](network="mlp", env=env, total_timesteps=total, nsteps=32, seed=0, num_hidden=8)
        env.close()
        assert model.timesteps == 0
    warning = (tmp_path / "short" / "log.txt").read_text()
    assert "total_timesteps=50 is less than one iteration's 64 env steps" in warning
    assert "nothing will be trained" in warning
    assert "less than one iteration" not in (tmp_path / "zero" / "log.txt").read_text()

