"""MuJoCo as a real env type: ids classified, baselines' 'module:EnvId' ids, actions clipped before the physics,
the CLI's VecNormalize statistics in checkpoints, and PPO2 with baselines' MuJoCo defaults learning.

All envs are real gymnasium MuJoCo envs (the `mujoco` wheel ships the engine).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import gymnasium
import numpy as np
import pytest
from cli_helpers import RUN, Finished, run_one

from baselines_tf2 import logger
from baselines_tf2 import run as run_cli
from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.common.cmd_util import get_env_type, make_env, make_vec_env, rebuild_vec_env
from baselines_tf2.common.vec_env import VecNormalize
from baselines_tf2.common.wrappers import ClipActionsWrapper, TimeLimit
from baselines_tf2.ppo2 import ppo2
from baselines_tf2.ppo2.defaults import mujoco
from baselines_tf2.tools.play import play_policy
from baselines_tf2.training.checkpoint import read_metadata

EVALUATE = [sys.executable, "-m", "baselines_tf2.evaluate"]
CLI_TIMEOUT_S = 300  # each run takes ~20 s alone (TensorFlow's start-up included); CI machines are busier
CLI_TIMESTEPS = 4096  # two PPO2 updates of baselines' MuJoCo batch (one env x 2048 steps)
# Measured (seed 0, 1, 2) with lr annealed over 150k steps: the training episodes' 20-episode mean first passes 500
# after 27.7k, 29.5k and 25.6k steps; over 61,440 steps (seeds 0-4) after 26-30k, every seed's final policy scoring
# 1000 (the maximum) in 20 frozen-statistics episodes. The suite's time budget gets 40,960 steps (a 1.4x margin).
MUJOCO_LEARNING_STEPS = 20 * 2048
HALF_CHEETAH_CTRL_COST_WEIGHT = 0.1  # HalfCheetah-v5's default: reward_ctrl = -0.1 * sum(action ** 2)


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Hopper-v4", "InvertedPendulum-v5"])
def test_gymnasium_mujoco_ids_are_of_type_mujoco(env_id: str) -> None:
    assert get_env_type(env_id) == "mujoco"


TINY_MODULE = "tiny_registering_envs"
TINY_ENV_ID = "TinyPendulum-v0"


@pytest.fixture
def tiny_env_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module on sys.path that registers TinyPendulum-v0 (InvertedPendulum-v5, 5 steps) when imported;
    the module and the registration are removed afterwards."""
    (tmp_path / f"{TINY_MODULE}.py").write_text(textwrap.dedent(f"""
        import gymnasium

        gymnasium.register(
            id="{TINY_ENV_ID}",
            entry_point="gymnasium.envs.mujoco.inverted_pendulum_v5:InvertedPendulumEnv",
            max_episode_steps=5,
        )
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield f"{TINY_MODULE}:{TINY_ENV_ID}"
    sys.modules.pop(TINY_MODULE, None)
    gymnasium.registry.pop(TINY_ENV_ID, None)


def test_module_colon_id_imports_the_module_then_makes_its_env(tiny_env_module: str) -> None:
    assert TINY_MODULE not in sys.modules and TINY_ENV_ID not in gymnasium.registry
    assert get_env_type(tiny_env_module) == "mujoco"  # the id after the colon, classified by its entry point
    assert TINY_MODULE in sys.modules
    env = make_env(tiny_env_module, "mujoco")
    env.reset(seed=0)
    steps = 0
    truncated = False
    while not truncated:
        _obs, _reward, terminated, truncated, _info = env.step(np.zeros(1, np.float32))
        assert not terminated
        steps += 1
    assert steps == 5 and env.spec is not None and env.spec.id == TINY_ENV_ID
    env.close()


def test_module_colon_id_with_a_bad_module_is_a_one_line_value_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'no_such_module_for_envs'.*ModuleNotFoundError") as missing:
        get_env_type("no_such_module_for_envs:Foo-v0")
    with pytest.raises(ValueError, match="'no_such_module_for_envs'"):
        make_env("no_such_module_for_envs:Foo-v0", "mujoco")
    # a module that fails while importing, with a message over several lines, still gives one line
    (tmp_path / "broken_envs_module.py").write_text("raise RuntimeError('first line\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="'broken_envs_module'.*RuntimeError: first line second line") as broken:
        get_env_type("broken_envs_module:Foo-v0")
    for error in (missing, broken):
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_make_env_clips_actions_before_mujoco_sees_them(sign: float) -> None:
    env = make_env("HalfCheetah-v5", "mujoco")
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (6,), np.float32)  # the policy sees the real bounds
    env.reset(seed=0)
    _obs, _reward, _terminated, _truncated, info = env.step(np.full(6, sign * 10.0, np.float32))
    np.testing.assert_array_equal(env.unwrapped.data.ctrl, np.full(6, sign))  # type: ignore[attr-defined]
    # unclipped, the control cost would be 0.1 * 6 * 10**2 = 60; clipped to the bound it is 0.1 * 6 * 1**2
    assert info["reward_ctrl"] == pytest.approx(-HALF_CHEETAH_CTRL_COST_WEIGHT * 6)
    env.close()


def test_clip_actions_wrapper_passes_non_box_actions_through_and_zeroes_nan() -> None:
    discrete = ClipActionsWrapper(gymnasium.make("CartPole-v1"))
    assert discrete.action(1) == 1
    box = ClipActionsWrapper(gymnasium.make("InvertedPendulum-v5"))  # actions in [-3, 3]
    np.testing.assert_array_equal(box.action(np.array([np.nan], np.float32)), [0.0])
    np.testing.assert_array_equal(box.action(np.array([-np.inf], np.float32)), [-3.0])
    np.testing.assert_array_equal(box.action(np.array([1.5], np.float32)), [1.5])
    discrete.close()
    box.close()


def test_time_limit_truncates_after_max_episode_steps_and_restarts_on_reset() -> None:
    env = TimeLimit(gymnasium.make("Pendulum-v1"), max_episode_steps=3)  # Pendulum never terminates
    for _episode in range(2):
        env.reset(seed=0)
        flags = [env.step(np.zeros(1, np.float32))[2:4] for _ in range(3)]
        assert flags == [(False, False), (False, False), (False, True)]
    unlimited = TimeLimit(gymnasium.make("Pendulum-v1", max_episode_steps=1000))
    unlimited.reset(seed=0)
    assert not any(unlimited.step(np.zeros(1, np.float32))[3] for _ in range(10))
    with pytest.raises(ValueError, match="max_episode_steps must be >= 1"):
        TimeLimit(gymnasium.make("Pendulum-v1"), max_episode_steps=0)
    env.close()
    unlimited.close()


@pytest.mark.parametrize("alg, normalized", [("ppo2", True), ("a2c", True), ("ddpg", True), ("td3", False),
                                             ("sac", False)])
def test_cli_mujoco_env_is_behind_vec_normalize_for_baselines_algorithms_only(alg: str, normalized: bool) -> None:
    # baselines' run.py normalized MuJoCo for all its algorithms; TD3 and SAC train on raw observations and rewards
    args, _unknown = run_cli.run_arg_parser().parse_known_args([f"--alg={alg}", "--env=InvertedPendulum-v5"])
    venv = run_cli.build_env(args, "mujoco", ALGORITHMS[alg], seed=0)
    try:
        assert isinstance(venv, VecNormalize) is normalized
        assert venv.num_envs == 1
    finally:
        venv.close()


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished | Path]:
    """`run` for CLI_TIMESTEPS steps of PPO2 on InvertedPendulum-v5 with --seed 0, then `evaluate` on its model."""
    root = tmp_path_factory.mktemp("mujoco_cli")
    log_path = root / "run"
    trained = run_one(RUN + ["--alg=ppo2", "--env=InvertedPendulum-v5", f"--num_timesteps={CLI_TIMESTEPS}",
                             f"--log_path={log_path}", "--seed", "0"], root, CLI_TIMEOUT_S)
    evaluated = run_one(EVALUATE + [str(log_path / "model"), "--episodes", "2", "--seed", "0", "--json", "-"],
                        root, CLI_TIMEOUT_S)
    return {"run": trained, "evaluate": evaluated, "model": log_path / "model"}


def vec_normalize_state(metadata: dict) -> dict:
    """The VecNormalize statistics in a checkpoint's env description, after checking it is the only wrapper."""
    assert metadata["env"]["recipe"]["env_type"] == "mujoco"
    [wrapper] = metadata["env"]["wrappers"]
    assert wrapper["type"] == "VecNormalize"
    return wrapper["state"]


def test_cli_mujoco_model_records_vec_normalize_statistics(cli_runs: dict) -> None:
    assert cli_runs["run"].returncode == 0, cli_runs["run"].stderr[-3000:]
    state = vec_normalize_state(read_metadata(cli_runs["model"]))
    assert state["obs_shape"] == [4] and len(state["ob_rms"]["mean"]) == 4  # InvertedPendulum's observation
    assert state["config"]["ob"] and state["config"]["ret"]


def test_cli_mujoco_model_records_the_trained_statistics(cli_runs: dict) -> None:
    assert cli_runs["run"].returncode == 0, cli_runs["run"].stderr[-3000:]
    state = vec_normalize_state(read_metadata(cli_runs["model"]))
    # every observation the run saw updated the statistics (the first reset's included); the start count is 1e-4
    assert state["ob_rms"]["count"] >= CLI_TIMESTEPS


def test_cli_evaluate_plays_the_mujoco_model(cli_runs: dict) -> None:
    assert cli_runs["run"].returncode == 0, cli_runs["run"].stderr[-3000:]
    result = cli_runs["evaluate"]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["settings"]["env_id"] == "InvertedPendulum-v5" and report["settings"]["actions"] == "sampled"
    scores = report["scores"]
    assert len(scores) == 2 and all(1 <= score <= 1000 for score in scores)  # +1 per step, at most 1000 steps


@pytest.mark.slow
@pytest.mark.timeout(900)  # above the suite's 300 s: it took 185 s on 2 cores shared with other jobs
def test_ppo2_with_baselines_mujoco_defaults_learns_inverted_pendulum(tmp_path: Path) -> None:
    """PPO2 with baselines' mujoco() defaults, one env behind VecNormalize as the CLI builds it, reaches a mean
    return of 500 on InvertedPendulum-v5 within MUJOCO_LEARNING_STEPS (random play: ~10; the maximum: 1000).

    Judged by 10 episodes of the final policy (actions sampled, as baselines plays) on a fresh env whose
    VecNormalize statistics are the trained ones, frozen: the score a user gets from the model, not a window of
    training episodes played by older policies.
    """
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        env = VecNormalize(make_vec_env("InvertedPendulum-v5", "mujoco", 1, seed=0))
        model = ppo2.learn(network="mlp", env=env, total_timesteps=MUJOCO_LEARNING_STEPS, seed=0, **mujoco())
        env.close()
    trained_env = model.run_metadata["env"]  # the statistics the model was trained to, as play and evaluate use
    # outside the logger's folder, so the evaluation episodes stay out of the training monitor file
    evaluation_env = rebuild_vec_env(trained_env, num_env=1, seed=1000)
    try:
        scores = play_policy(model.policy, evaluation_env, 10)
    finally:
        evaluation_env.close()
    assert np.mean(scores) >= 500, scores
