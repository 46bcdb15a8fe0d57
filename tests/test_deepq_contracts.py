"""deepq contracts: save -> load acts the same, bad checkpoints and inputs fail clearly, the callback stops
training, the package imports without TensorFlow, evaluation logs and checkpoints, and the CLI + play.py work.

The CLI commands each pay TensorFlow's import, so every group of them runs concurrently.
"""

from __future__ import annotations

import csv
import json
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from cli_helpers import PLAY, Finished, run_concurrently
from cli_helpers import RUN as CLI_RUN

from baselines_tf2 import logger
from baselines_tf2.bench import Monitor
from baselines_tf2.common.envs import BoxIdentityEnv, DiscreteIdentityEnv
from baselines_tf2.common.vec_env import DummyVecEnv
from baselines_tf2.deepq import deepq
from baselines_tf2.deepq.act import ActWrapper, load_act
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.ppo2.model import PPO2Model
from baselines_tf2.training.agent import load_policy
from baselines_tf2.training.checkpoint import CheckpointError, read_metadata

RUN = CLI_RUN + ["--alg=deepq"]
TIMEOUT_S = 180
NET = {"num_hidden": 16, "hiddens": [16]}  # small mlp torso and Q-head for the in-process runs


@pytest.fixture(autouse=True)
def csv_logger(tmp_path: Path):
    with logger.scoped_configure(str(tmp_path / "log"), ["csv"]):
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[ActWrapper, Path]:
    """A deepq act after 300 CartPole steps (epsilon 1 -> 0.02 over 150 steps, trained from step 100), saved."""
    folder = tmp_path_factory.mktemp("deepq")
    with logger.scoped_configure(str(folder), ["csv"]):
        act = deepq.learn(gymnasium.make("CartPole-v1"), "mlp", seed=0, total_timesteps=300, learning_starts=100,
                          exploration_fraction=0.5, **NET)
    path = folder / "model"
    act.save(str(path))
    return act, path


def cartpole_obs(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)


# ---- save / load ------------------------------------------------------------------------------------


def test_learn_records_timesteps_and_final_epsilon(trained: tuple[ActWrapper, Path]) -> None:
    act, _path = trained
    assert act.timesteps == 300
    assert act.epsilon == pytest.approx(0.02)


def test_saved_act_reloads_with_same_greedy_actions_epsilon_and_timesteps(trained: tuple[ActWrapper, Path]) -> None:
    act, path = trained
    obs = cartpole_obs()
    reloaded = {
        "load_act": load_act(str(path)),
        "learn(load_path)": deepq.learn(gymnasium.make("CartPole-v1"), "mlp", total_timesteps=0,
                                        load_path=str(path), **NET),
        "load_policy": load_policy(str(path))[0],
    }
    for how, loaded in reloaded.items():
        np.testing.assert_array_equal(loaded(obs, stochastic=False), act(obs, stochastic=False), err_msg=how)
        np.testing.assert_array_equal(loaded.model.q_values(obs).numpy(), act.model.q_values(obs).numpy(), err_msg=how)
        assert (loaded.epsilon, loaded.timesteps) == (act.epsilon, act.timesteps), how
    assert len(set(act(obs, stochastic=False))) == 2  # the comparison covers both actions


def damaged_copies(path: Path, folder: Path) -> dict[str, Path]:
    """Broken variants of a good checkpoint: cut short, a flipped weight byte, missing, not a zip, and metadata
    that describes a different Q-head than the stored weights."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo("arrays/policy/0000.npy")
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    name_and_extra = struct.unpack("<HH", data[entry.header_offset + 26 : entry.header_offset + 30])
    last_weight_byte = entry.header_offset + 30 + sum(name_and_extra) + entry.compress_size - 1
    metadata = json.loads(members["metadata.json"])
    metadata["network_kwargs"]["hiddens"] = [8]
    members["metadata.json"] = json.dumps(metadata).encode()
    damaged = {
        "truncated": data[: len(data) // 2],
        "flipped_weight": data[:last_weight_byte] + bytes([data[last_weight_byte] ^ 0xFF])
        + data[last_weight_byte + 1 :],
        "garbage": b"not a checkpoint at all",
    }
    paths = {"missing": folder / "missing", "other_head": folder / "other_head"}
    with zipfile.ZipFile(paths["other_head"], "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    for what, content in damaged.items():
        paths[what] = folder / what
        paths[what].write_bytes(content)
    return paths


def test_corrupt_checkpoints_raise_checkpoint_error(trained: tuple[ActWrapper, Path], tmp_path: Path) -> None:
    for bad in damaged_copies(trained[1], tmp_path).values():
        with pytest.raises(CheckpointError):
            load_act(str(bad))
        with pytest.raises(CheckpointError):
            deepq.learn(gymnasium.make("CartPole-v1"), "mlp", total_timesteps=0, load_path=str(bad), **NET)


def test_mismatched_network_or_env_raises_checkpoint_error(trained: tuple[ActWrapper, Path]) -> None:
    path = str(trained[1])
    with pytest.raises(CheckpointError, match="network_kwargs"):
        deepq.learn(gymnasium.make("CartPole-v1"), "mlp", total_timesteps=0, load_path=path, num_hidden=16,
                    hiddens=[32])
    with pytest.raises(CheckpointError, match="observation space"):
        deepq.learn(DiscreteIdentityEnv(dim=4), "mlp", total_timesteps=0, load_path=path, **NET)


def test_ppo2_checkpoint_is_refused_by_deepq(tmp_path: Path) -> None:
    env = gymnasium.make("CartPole-v1")
    policy = PolicyWithValue(env.observation_space, env.action_space, "mlp", {"num_hidden": 16})
    path = str(tmp_path / "ppo2_model")
    PPO2Model(policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5).save(path)
    with pytest.raises(CheckpointError, match="'ppo2' checkpoint, not a deepq one"):
        load_act(path)
    with pytest.raises(CheckpointError, match="'ppo2' checkpoint"):
        deepq.learn(env, "mlp", total_timesteps=0, load_path=path, num_hidden=16)


# ---- bad inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_env, kwargs, error, message",
    [
        (lambda: BoxIdentityEnv(shape=(1,)), {}, TypeError, r"needs a Discrete action space.*Box"),
        (lambda: DiscreteIdentityEnv(), {"buffer_size": 16, "batch_size": 32}, ValueError,
         r"buffer_size \(16\) must be at least batch_size \(32\)"),
        (lambda: DiscreteIdentityEnv(), {"param_noise": True}, ValueError, r"param_noise is not supported"),
        (lambda: DummyVecEnv([DiscreteIdentityEnv] * 2), {}, ValueError, r"single env; got a VecEnv with 2 envs"),
        (lambda: DiscreteIdentityEnv(), {"lr": -1e-3}, ValueError, r"lr must be a number > 0, got -0.001"),
        (lambda: DiscreteIdentityEnv(), {"gamma": 1.01}, ValueError, r"gamma must be a number in \[0, 1\], got 1.01"),
        (lambda: DiscreteIdentityEnv(), {"exploration_fraction": -0.1}, ValueError,
         r"exploration_fraction must be a number in \[0, 1\], got -0.1"),
        (lambda: DiscreteIdentityEnv(), {"learning_starts": -1}, ValueError,
         r"learning_starts must be an integer >= 0, got -1"),
        (lambda: DiscreteIdentityEnv(), {"gamma": "high"}, TypeError, r"gamma must be a number, got 'high'"),
    ],
    ids=["box_actions", "buffer_smaller_than_batch", "param_noise", "two_envs", "negative_lr", "gamma_above_1",
         "negative_exploration_fraction", "negative_learning_starts", "word_for_gamma"],
)
def test_learn_rejects_bad_inputs_with_clear_messages(make_env: Any, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        deepq.learn(make_env(), "mlp", total_timesteps=100, **kwargs)


# ---- callback, imports, evaluation -----------------------------------------------------------------------


def test_callback_returning_true_stops_training() -> None:
    seen: list[tuple[int, list[float]]] = []

    def stop_at_50(lcl: dict[str, Any], glb: dict[str, Any]) -> bool:
        seen.append((lcl["t"], list(lcl["episode_rewards"])))
        return lcl["t"] >= 50

    env = Monitor(DiscreteIdentityEnv(dim=4, episode_length=20), None)
    act = deepq.learn(env, "mlp", seed=0, total_timesteps=1000, learning_starts=1000, callback=stop_at_50, **NET)
    assert [t for t, _rewards in seen] == list(range(51))
    assert len(seen[-1][1]) == 3  # two finished 20-step episodes plus the running one (baselines' list)
    assert act.timesteps == 50


def test_deepq_package_import_stays_free_of_tensorflow() -> None:
    probe = (
        "import sys\n"
        "import baselines_tf2.deepq, baselines_tf2.deepq.replay_buffer, baselines_tf2.deepq.defaults\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not heavy, heavy[:5]\n"
        "assert callable(baselines_tf2.deepq.learn)\n"
        "assert 'tensorflow' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=TIMEOUT_S)


def test_evaluation_logs_mean_score_and_writes_best_eval_checkpoint(tmp_path: Path) -> None:
    identity = lambda: Monitor(DiscreteIdentityEnv(dim=4, episode_length=20), None)  # noqa: E731
    log_dir = tmp_path / "eval_run"
    with logger.scoped_configure(str(log_dir), ["csv"]):
        deepq.learn(identity(), "mlp", seed=0, total_timesteps=200, learning_starts=50, eval_env=identity(),
                    eval_freq=100, eval_episodes=2, **NET)
    with open(log_dir / "progress.csv", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("eval/mean_score")]
    assert [int(row["eval/timesteps"]) for row in rows] == [100, 200]
    assert all(0.0 <= float(row["eval/mean_score"]) <= 20.0 for row in rows)
    best = load_act(str(log_dir / "best-eval"))
    assert isinstance(best, ActWrapper) and best.observation_space == gymnasium.spaces.Discrete(4)


def test_a_loaded_model_trains_with_the_lr_given_to_learn(tmp_path: Path) -> None:
    """The saved optimizer state holds the learning rate it was trained with; learn()'s lr applies."""
    identity = lambda: Monitor(DiscreteIdentityEnv(dim=4, episode_length=20), None)  # noqa: E731
    trained = deepq.learn(identity(), "mlp", seed=0, total_timesteps=100, learning_starts=50, lr=1e-3, **NET)
    trained.save(str(tmp_path / "model"))
    loaded = deepq.learn(identity(), "mlp", seed=0, total_timesteps=0, lr=1e-6, load_path=str(tmp_path / "model"),
                         **NET)
    assert float(loaded.model.optimizer.learning_rate.numpy()) == pytest.approx(1e-6)
    assert int(loaded.model.optimizer.iterations.numpy()) == int(trained.model.optimizer.iterations.numpy()) > 0


def test_a_resumed_run_keeps_its_score_window_and_best_evaluation(tmp_path: Path) -> None:
    """A checkpoint carries the last 100 episode scores and the best evaluation score, so a resumed run's mean (and
    best model) goes on over the same window and an evaluation below the earlier best overwrites nothing."""
    identity = lambda: Monitor(DiscreteIdentityEnv(dim=4, episode_length=10), None)  # noqa: E731
    options = dict(seed=0, total_timesteps=600, learning_starts=50, checkpoint_freq=200, eval_freq=100,
                   eval_episodes=2, keep_checkpoints=0, **NET)
    with logger.scoped_configure(str(tmp_path), ["csv"]):
        deepq.learn(identity(), "mlp", eval_env=identity(), **options)
    middle = read_metadata(tmp_path / "checkpoints" / "00201")["training"]
    assert len(middle["recent_episode_scores"]) == 20 and middle["best_eval_score"] is not None
    first_means: list[float] = []

    def note_first_mean(local_vars: dict[str, Any], _globals: dict[str, Any]) -> bool:
        if not first_means:
            first_means.append(local_vars["mean_100ep_reward"])
        return False

    with logger.scoped_configure(str(tmp_path), ["csv"]):
        deepq.learn(identity(), "mlp", eval_env=identity(), load_path=str(tmp_path / "checkpoints" / "00201"),
                    callback=note_first_mean, **options)
    assert first_means == [round(float(np.mean(middle["recent_episode_scores"])), 1)]
    final = read_metadata(tmp_path / "checkpoints" / "00600")["training"]
    with open(tmp_path / "progress.csv", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("eval/mean_score")]
    resumed_scores = [float(row["eval/mean_score"]) for row in rows[-4:]]  # the resumed piece's, at 300..600
    assert [int(row["eval/timesteps"]) for row in rows[-4:]] == [300, 400, 500, 600]
    assert final["best_eval_score"] == max([middle["best_eval_score"], *resumed_scores])


def test_the_best_model_of_a_resumed_run_is_put_back_at_the_end(tmp_path: Path) -> None:
    """The best model saved before the stop is restored at the end even if the resumed piece found none better."""
    from baselines_tf2.training.run import BestModel

    identity = lambda: Monitor(DiscreteIdentityEnv(dim=4, episode_length=10), None)  # noqa: E731
    best = deepq.learn(identity(), "mlp", seed=0, total_timesteps=60, learning_starts=50, **NET)
    best.save(str(tmp_path / "best"))
    final = deepq.learn(identity(), "mlp", seed=1, total_timesteps=60, learning_starts=50, **NET)
    gone = BestModel()
    gone.path = str(tmp_path / "elsewhere" / "best")
    gone.keep(7.0)  # a checkpoint's best score whose model is not in this folder counts for nothing
    assert gone.score is None
    resumed = BestModel()
    resumed.path = str(tmp_path / "best")
    resumed.keep(7.0)  # as a resume takes back the checkpoint's best score
    resumed.restore_into(final)
    for restored, saved in zip(final.model.q_network.get_weights(), best.model.q_network.get_weights()):
        np.testing.assert_array_equal(restored, saved)


# ---- command line and play.py ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Finished]]:
    """Tiny CartPole and Breakout trainings plus the usage checks (one batch), then play.py on both models."""
    root = tmp_path_factory.mktemp("cli")
    train = {
        "cartpole": RUN + ["--env=CartPole-v1", "--num_timesteps=3000", "--learning_starts=500", "--print_freq=10",
                           "--seed=0", f"--log_path={root / 'cartpole'}"],
        "atari": RUN + ["--env=BreakoutNoFrameskip-v4", "--num_timesteps=600", "--learning_starts=200",
                        "--buffer_size=1000", "--seed=0", f"--log_path={root / 'atari'}"],
        "hiddens_valid": RUN + ["--env=CartPole-v1", "--hiddens=[64]", "--num_timesteps=0",
                                f"--log_path={root / 'hiddens'}"],
        "value_network_invalid": RUN + ["--env=CartPole-v1", "--value_network=copy", f"--log_path={root / 'x'}"],
        "continuous_actions": RUN + ["--env=Pendulum-v1", "--num_timesteps=100", f"--log_path={root / 'y'}"],
    }
    results = run_concurrently(train, root, timeout=TIMEOUT_S)
    play = {
        "play_cartpole": PLAY + [str(root / "cartpole" / "model"), "--episodes", "2", "--seed", "0"],
        "play_atari": PLAY + [str(root / "atari" / "model"), "--episodes", "1", "--seed", "0"],
    }
    results.update(run_concurrently(play, root, timeout=TIMEOUT_S))
    return root, results


def explain(result: Finished) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"


def test_cli_cartpole_run_writes_model_and_progress_then_plays(cli_runs: tuple[Path, dict[str, Finished]]) -> None:
    root, results = cli_runs
    assert results["cartpole"].returncode == 0, explain(results["cartpole"])
    metadata = read_metadata(root / "cartpole" / "model")
    assert metadata["alg"] == "deepq" and metadata["timesteps"] == 3000
    with open(root / "cartpole" / "progress.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows and {"steps", "mean 100 episode reward", "loss"} <= set(rows[-1])
    assert results["play_cartpole"].returncode == 0, explain(results["play_cartpole"])
    assert "mean score over 2 episodes" in results["play_cartpole"].stdout


def test_cli_atari_run_then_play_rebuilds_frame_stacked_env(cli_runs: tuple[Path, dict[str, Finished]]) -> None:
    root, results = cli_runs
    assert results["atari"].returncode == 0, explain(results["atari"])
    metadata = read_metadata(root / "atari" / "model")
    assert metadata["network"] == "conv_only" and metadata["observation_space"]["shape"] == [84, 84, 4]
    assert metadata["env"]["recipe"]["wrapper_kwargs"] == {"frame_stack": True}
    assert results["play_atari"].returncode == 0, explain(results["play_atari"])
    assert "mean score over 1 episodes" in results["play_atari"].stdout


def test_cli_accepts_q_head_options(cli_runs: tuple[Path, dict[str, Finished]]) -> None:
    assert cli_runs[1]["hiddens_valid"].returncode == 0, explain(cli_runs[1]["hiddens_valid"])


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("value_network_invalid", r"unknown option\(s\) for --alg=deepq.*--value_network.*valid: .*\bhiddens\b"),
        ("continuous_actions", r"--alg=deepq needs a Discrete action space, but Pendulum-v1 has Box"),
    ],
)
def test_cli_usage_errors_exit_2_with_a_clear_message(
    cli_runs: tuple[Path, dict[str, Finished]], name: str, pattern: str
) -> None:
    result = cli_runs[1][name]
    assert result.returncode == 2, explain(result)
    assert "Traceback" not in result.stderr
    assert re.search(pattern, result.stderr), result.stderr[-2000:]
