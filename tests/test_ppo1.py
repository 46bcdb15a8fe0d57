"""PPO1 (baselines' pposgd_simple): its loss and batching, learning, checkpoints that play, baselines' script, and the
refusals of bad arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from cli_helpers import RUN

from baselines_tf2.bench import Monitor
from baselines_tf2.ppo1 import cnn_policy, mlp_policy, pposgd_simple
from baselines_tf2.training.checkpoint import read_metadata

PLAY = [sys.executable, "examples/play.py"]
REPO = Path(__file__).resolve().parents[1]
SETTINGS = dict(clip_param=0.2, entcoeff=0.0, optim_epochs=10, optim_stepsize=3e-4, optim_batchsize=64, gamma=0.99,
                lam=0.95)  # baselines' run_mujoco.py


def mlp_policy_fn(name: str, ob_space: Any, ac_space: Any) -> mlp_policy.MlpPolicy:
    return mlp_policy.MlpPolicy(name=name, ob_space=ob_space, ac_space=ac_space, hid_size=64, num_hid_layers=2)


def cartpole() -> gymnasium.Env:
    return Monitor(gymnasium.make("CartPole-v1"), None)


def mean_return(model: pposgd_simple.PPO1Model, episodes: int = 10) -> float:
    """baselines' way of playing a ppo1 policy: `pi.act(stochastic, ob)` on raw observations."""
    env, returns = gymnasium.make("CartPole-v1"), []
    for episode in range(episodes):
        ob, _info = env.reset(seed=1000 + episode)
        done, total = False, 0.0
        while not done:
            action, _value = model.act(True, ob)
            ob, reward, terminated, truncated, _info = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pposgd_simple.PPO1Model, Path, list[dict]]:
    """Two updates of 256 steps on CartPole, saved; the callback's locals recorded."""
    seen: list[dict] = []
    model = pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=256, max_iters=2, seed=0,
                                callback=lambda local_vars, _globals: seen.append(dict(local_vars)), **SETTINGS)
    path = tmp_path_factory.mktemp("ppo1") / "model"
    model.save(str(path))
    return model, path, seen


def test_learn_runs_the_bound_it_is_given_and_calls_back_before_each_iteration(short_run: Any) -> None:
    model, _path, seen = short_run
    assert model.timesteps == 512
    assert [local_vars["iters_so_far"] for local_vars in seen] == [0, 1]  # before each of the two iterations


def test_a_checkpoint_records_the_observation_filter(short_run: Any) -> None:
    model, path, _seen = short_run
    metadata = read_metadata(path)
    assert metadata["alg"] == "ppo1" and metadata["value_network"] == "copy"
    [wrapper] = metadata["env"]["wrappers"]  # MlpPolicy's running observation filter, as a VecNormalize
    config = wrapper["state"]["config"]
    assert wrapper["type"] == "VecNormalize" and config["ob"] and not config["ret"]
    assert wrapper["state"]["ob_rms"]["count"] >= 512


def test_load_path_restores_the_weights_and_the_observation_filter(short_run: Any) -> None:
    model, path, _seen = short_run
    seen: list[Any] = []
    reloaded = pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=256, max_iters=1,
                                   load_path=str(path), **{**SETTINGS, "optim_stepsize": 1e-12},
                                   callback=lambda local_vars, _globals: seen.append(
                                       local_vars["pi"].observation_filter.ob_rms.count))
    before = [array for _name, array in model.policy.get_weights()]
    after = [array for _name, array in reloaded.policy.get_weights()]
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(before, after))  # a near-zero step on loaded weights
    # before the first iteration the filter holds the saved statistics (loaded after the envs' reset)
    assert seen[0] == model.observation_filter.ob_rms.count > 512


def test_max_episodes_counts_episodes_without_a_monitor() -> None:
    model = pposgd_simple.learn(gymnasium.make("CartPole-v1"), mlp_policy_fn, timesteps_per_actorbatch=128,
                                max_episodes=3, **SETTINGS)
    assert model.timesteps == 128  # 128 CartPole steps end more than 3 episodes


@pytest.mark.parametrize("kwargs, message", [
    ({"max_iters": 2, "max_timesteps": 1000}, "exactly one of max_timesteps"),
    ({}, "exactly one of max_timesteps"),
    ({"max_iters": 2, "schedule": "linear"}, "needs max_timesteps"),
    ({"max_iters": 2, "schedule": "cosine"}, "schedule must be one of constant, linear"),
])
def test_bad_bounds_and_schedules_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=64, **SETTINGS, **kwargs)


def test_policy_builders_refuse_what_they_cannot_build() -> None:
    space = gymnasium.spaces.Box(-1, 1, (3,), np.float32)
    with pytest.raises(ValueError, match="gaussian_fixed_var=False"):
        mlp_policy.MlpPolicy("pi", space, space, hid_size=8, num_hid_layers=1, gaussian_fixed_var=False)
    # for discrete actions baselines' flag changes nothing, so it is accepted
    mlp_policy.MlpPolicy("pi", space, gymnasium.spaces.Discrete(2), hid_size=8, num_hid_layers=1,
                         gaussian_fixed_var=False)
    with pytest.raises(ValueError, match="kind must be one of"):
        cnn_policy.CnnPolicy("pi", gymnasium.spaces.Box(0, 255, (84, 84, 1), np.uint8), gymnasium.spaces.Discrete(4),
                             kind="medium")
    with pytest.raises(TypeError, match="policy_fn must return a ppo1 MlpPolicy or CnnPolicy"):
        pposgd_simple.learn(cartpole(), lambda *args: object(), timesteps_per_actorbatch=64, max_iters=1, **SETTINGS)


def test_cnn_policy_kinds_are_baselines_networks() -> None:
    obs = gymnasium.spaces.Box(0, 255, (84, 84, 1), np.uint8)
    large = cnn_policy.CnnPolicy("pi", obs, gymnasium.spaces.Discrete(4))
    small = cnn_policy.CnnPolicy("pi", obs, gymnasium.spaces.Discrete(4), kind="small")
    assert large.description["network"] == "cnn" and small.description["network"] == "cnn_a3c"
    kernels = [v.shape for v in small.trainable_variables if v.path.endswith("kernel")]
    assert kernels[:3] == [(8, 8, 1, 16), (4, 4, 16, 32), (9 * 9 * 32, 256)]  # the A3C paper's torso


def column_norms(variable: Any) -> np.ndarray:
    return np.sqrt(np.square(np.asarray(variable)).sum(axis=0))


def test_policies_start_from_baselines_ppo1_initialization() -> None:
    """baselines' ppo1: normc(1.0) hidden layers and value output, normc(0.01) policy output, Glorot-uniform
    convolutions, zero biases and log std (not ppo2's orthogonal gain-sqrt(2) layers)."""
    box = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
    mlp = mlp_policy.MlpPolicy("pi", box, gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32), hid_size=16,
                               num_hid_layers=2)
    weights = {variable.path: variable.numpy() for variable in mlp.net.weights}
    hidden = [variable.numpy() for variable in mlp.net.weights if variable.path.startswith("mlp_fc")
              and variable.path.endswith("kernel")]
    assert len(hidden) == 4  # two layers each in the policy's and the value's MLP
    for kernel in hidden:
        np.testing.assert_allclose(column_norms(kernel), 1.0, rtol=1e-5)
    np.testing.assert_allclose(column_norms(weights["actor_critic/pi/mean/kernel"]), 0.01, rtol=1e-5)
    np.testing.assert_allclose(column_norms(weights["actor_critic/vf/kernel"]), 1.0, rtol=1e-5)
    assert all(not value.any() for path, value in weights.items() if path.endswith(("bias", "logstd")))

    frames = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    cnn = cnn_policy.CnnPolicy("pi", frames, gymnasium.spaces.Discrete(4), kind="small")
    weights = {variable.path: variable.numpy() for variable in cnn.net.weights}
    first = weights["conv1/kernel"]  # 8 x 8 x 4 -> 16
    bound = np.sqrt(6.0 / (8 * 8 * (4 + 16)))
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.9 * bound  # uniform over the whole range
    np.testing.assert_allclose(column_norms(weights["fc1/kernel"]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(column_norms(weights["actor_critic/pi/kernel"]), 0.01, rtol=1e-5)
    np.testing.assert_allclose(column_norms(weights["actor_critic/vf/kernel"]), 1.0, rtol=1e-5)


def test_run_cli_does_not_take_ppo1() -> None:
    result = subprocess.run([*RUN, "--alg=ppo1", "--env=CartPole-v1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "unknown algorithm 'ppo1'" in result.stderr


def test_run_mujoco_script_trains_and_saves_a_model_that_plays(tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_LOGDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "baselines_tf2.ppo1.run_mujoco", "--env=InvertedPendulum-v5",
                             "--num-timesteps=4096", "--seed=0"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_metadata(tmp_path / "model")["timesteps"] == 4096
    assert (tmp_path / "0.0.monitor.csv").exists()
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"EpRewMean", "EpisodesSoFar", "TimestepsSoFar", "loss_pol_surr", "loss_vf_loss", "loss_ent"} <= set(header)
    played = subprocess.run([*PLAY, str(tmp_path / "model"), "--episodes", "2"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert played.returncode == 0, played.stderr[-3000:]


@pytest.mark.slow
def test_ppo1_solves_cartpole() -> None:
    # baselines' run_mujoco.py settings with a linear schedule over 60k steps: seed 0 scored 500 (the maximum)
    model = pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=2048, max_timesteps=60_000,
                                schedule="linear", seed=0, **SETTINGS)
    assert mean_return(model) >= 475.0


def test_ppo1_model_names_its_own_loss_terms() -> None:
    model = pposgd_simple.learn(cartpole(), mlp_policy_fn, timesteps_per_actorbatch=64, max_iters=1, **SETTINGS)
    assert model.loss_names == ["pol_surr", "pol_entpen", "vf_loss", "approxkl", "ent"]
