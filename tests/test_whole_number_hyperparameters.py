"""Integer hyperparameters take whole floats, as baselines' did (`buffer_size=5e4`, `total_timesteps=1e6`): every
config turns them into the ints they spell, and refuses a fractional value naming the parameter."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.a2c.a2c import A2CConfig
from baselines_tf2.common.validation import require_int
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.ddpg.ddpg import DDPGConfig
from baselines_tf2.deepq.deepq import DQNConfig
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.ppo2.ppo2 import PPO2Config
from baselines_tf2.sac.sac import SACConfig
from baselines_tf2.td3.td3 import TD3Config
from baselines_tf2.training.run import RunOptions
from baselines_tf2.trpo_mpi.trpo_mpi import TRPOConfig

INT_FIELDS = [
    (PPO2Config, {}, "nsteps"),
    (A2CConfig, {}, "nsteps"),
    (DQNConfig, {}, "buffer_size"),
    (DQNConfig, {}, "prioritized_replay_beta_iters"),  # `int | None`
    (TRPOConfig, {}, "timesteps_per_batch"),
    (DDPGConfig, {}, "nb_rollout_steps"),
    (TD3Config, {}, "policy_delay"),  # a subclass's own field
    (SACConfig, {}, "buffer_size"),  # a field of the shared base class
    (RunOptions, {"total_timesteps": 1}, "total_timesteps"),
]
IDS = [f"{config.__name__}.{name}" for config, _, name in INT_FIELDS]


@pytest.mark.parametrize(("config_class", "required", "name"), INT_FIELDS, ids=IDS)
@pytest.mark.parametrize("value", [2e3, np.float32(2000.0), np.int64(2000)], ids=["float", "np_float32", "np_int64"])
def test_whole_numbers_become_ints(config_class: type, required: dict[str, Any], name: str, value: Any) -> None:
    config = config_class(**{**required, name: value})
    assert getattr(config, name) == 2000 and type(getattr(config, name)) is int


@pytest.mark.parametrize(("config_class", "required", "name"), INT_FIELDS, ids=IDS)
def test_fractional_values_are_refused_naming_the_parameter(config_class: type, required: dict[str, Any],
                                                            name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be an integer, got 5.5 \(a float is accepted only when it is "
                                         r"whole, e.g. 5e4\)$"):
        config_class(**{**required, name: 5.5})


def test_require_int_returns_the_int_and_explains_refusals() -> None:
    assert require_int("num_hidden", 64.0, minimum=1) == 64
    assert type(require_int("num_hidden", np.int32(64), minimum=1)) is int
    with pytest.raises(ValueError, match=r"num_hidden must be an integer >= 1, got 6.4 \(a float is accepted only"):
        require_int("num_hidden", 6.4, minimum=1)
    with pytest.raises(ValueError, match=r"num_hidden must be an integer >= 1, got inf \(a float"):
        require_int("num_hidden", float("inf"), minimum=1)
    for value in (True, "64", 0.0):  # a bool or a word is no count; 0.0 is whole but below the minimum
        with pytest.raises(ValueError, match=rf"num_hidden must be an integer >= 1, got {value!r}$"):
            require_int("num_hidden", value, minimum=1)


def test_ppo2_learns_with_float_counts_as_baselines_scripts_pass_them() -> None:
    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    model = ppo2.learn(network="mlp", env=env, total_timesteps=1.28e2, nsteps=6.4e1, nminibatches=2.0,
                       noptepochs=1.0, seed=0, num_hidden=1.6e1)
    assert model.timesteps == 128 and model.gradient_steps == 4  # 2 updates x 1 epoch x 2 minibatches
    env.close()
