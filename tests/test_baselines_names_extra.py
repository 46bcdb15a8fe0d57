"""baselines' keyword calls and the names added for docs/porting.md's table (issue 18): each call is written as
baselines code wrote it, parameter names included, and checked against the documented result."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env import (
    DummyVecEnv,
    ShmemVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvObservationWrapper,
    VecExtractDictObs,
)
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION

# ---- math_util and schedules: baselines' parameter names ----------------------------------------------------


def test_math_util_takes_baselines_keywords() -> None:
    from baselines_tf2.common import discount_with_boundaries, explained_variance
    from baselines_tf2.common.math_util import discount

    # y[1] = 2; y[0] = 1 + 0.5 * 2 = 2
    np.testing.assert_allclose(discount(x=np.array([1.0, 2.0]), gamma=0.5), [2.0, 2.0])
    # residual var([0, 0, 1]) = 2/9 over var([1, 2, 4]) = 14/9: 1 - 2/14
    assert explained_variance(ypred=np.array([1.0, 2.0, 3.0]), y=np.array([1.0, 2.0, 4.0])) == pytest.approx(6 / 7)
    # a new episode starts at step 1, so nothing flows back into step 0: [1, 2]
    y = discount_with_boundaries(X=np.array([1.0, 2.0]), New=np.array([0.0, 1.0]), gamma=0.9)
    np.testing.assert_allclose(y, [1.0, 2.0])


def test_schedules_take_baselines_keywords() -> None:
    from baselines_tf2.common.schedules import ConstantSchedule, PiecewiseSchedule, Schedule, linear_interpolation

    constant = ConstantSchedule(value=0.3)
    assert constant.value(10**6) == 0.3 and constant(0) == 0.3 and isinstance(constant, Schedule)
    # baselines' positional order: endpoints, interpolation, outside_value
    step = PiecewiseSchedule([(0, 1.0), (10, 3.0)], lambda left, right, alpha: left, 7.0)
    assert step.value(5) == 1.0 and step.value(10) == 7.0
    linear = PiecewiseSchedule(endpoints=[(0, 1.0), (10, 3.0)], interpolation=linear_interpolation,
                               outside_value=None)
    assert linear.value(5) == 2.0  # halfway from 1 to 3


# ---- logger -------------------------------------------------------------------------------------------------


def test_logger_output_formats_take_baselines_keywords(tmp_path: Path) -> None:
    from baselines_tf2 import logger

    human = logger.HumanOutputFormat(filename_or_file=str(tmp_path / "log.txt"))
    assert isinstance(human, logger.SeqWriter)
    human.writeseq(("hello", 1))
    human.close()
    assert (tmp_path / "log.txt").read_text() == "hello 1\n"
    for cls, name in ((logger.JSONOutputFormat, "progress.json"), (logger.CSVOutputFormat, "progress.csv")):
        fmt = cls(filename=str(tmp_path / name))
        fmt.writekvs({"step": 1})
        fmt.close()
    assert logger.read_json(fname=str(tmp_path / "progress.json"))["step"].tolist() == [1]
    assert logger.read_csv(fname=str(tmp_path / "progress.csv"))["step"].tolist() == [1]


def test_seq_writer_is_abstract_and_rank_is_read_without_mpi(monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines_tf2 import logger

    with pytest.raises(TypeError):
        logger.SeqWriter()  # type: ignore[abstract]
    for name in logger.MPI_RANK_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert logger.get_rank_without_mpi_import() == 0
    monkeypatch.setenv("PMI_RANK", "3")
    assert logger.get_rank_without_mpi_import() == 3


class TwoRanksAsRankZero:
    """A communicator stand-in: rank 0 of two, the other rank having logged a = 3.0 once."""

    def gather(self, local: dict) -> list[dict]:
        return [local, {"a": (3.0, 1)}]

    def Get_rank(self) -> int:  # mpi4py's name
        return 0


def test_logger_mpi_weighted_mean_weighs_by_count() -> None:
    from baselines_tf2 import logger

    # a = 1.0 three times here, 3.0 once there: (3 * 1.0 + 1 * 3.0) / 4
    assert logger.mpi_weighted_mean(comm=TwoRanksAsRankZero(), local_name2valcount={"a": (1.0, 3)}) == {"a": 1.5}


# ---- bench, run ---------------------------------------------------------------------------------------------


def test_get_monitor_files_takes_dir(tmp_path: Path) -> None:
    from baselines_tf2.bench.monitor import get_monitor_files

    (tmp_path / "0.monitor.csv").write_text("")
    (tmp_path / "progress.csv").write_text("")
    assert [os.path.basename(f) for f in get_monitor_files(dir=str(tmp_path))] == ["0.monitor.csv"]


def test_run_get_env_type_takes_the_args_namespace() -> None:
    from baselines_tf2.run import get_env_type

    assert get_env_type(argparse.Namespace(env="CartPole-v1", env_type=None)) == ("classic_control", "CartPole-v1")
    assert get_env_type(argparse.Namespace(env="CartPole-v1", env_type="mine")) == ("mine", "CartPole-v1")
    assert get_env_type("CartPole-v1") == "classic_control"  # a bare id, as common.cmd_util.get_env_type


# ---- console_util -------------------------------------------------------------------------------------------


def test_console_util_formats_rows_and_colours(capsys: pytest.CaptureFixture[str]) -> None:
    from baselines_tf2.common import console_util
    from baselines_tf2.common.console_util import colorize, fmt_item, fmt_row, print_cmd, timed

    assert fmt_item(x=0.5, l=10) == "   0.50000"
    assert fmt_item(np.array(12345.0), 9) == " 1.23e+04"  # above 1e4: exponent form
    assert fmt_row(4, ["a", 2], header=True) == "   a |    2\n" + "-" * 11
    assert colorize("hi", "red", bold=True, highlight=True) == "\x1b[41;1mhi\x1b[0m"  # red 31, +10 as background
    assert colorize("hi") == "\x1b[32mhi\x1b[0m"  # baselines' default colour: green
    print_cmd(["echo", "a b"], dry=True)
    with timed("outer"):
        assert console_util.MESSAGE_DEPTH == 1
    assert console_util.MESSAGE_DEPTH == 0
    lines = capsys.readouterr().out.splitlines()
    assert "DRY: echo 'a b'" in lines[0] and "=: outer" in lines[1] and "done in" in lines[2]


def test_console_util_runs_commands_and_reads_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from baselines_tf2.common.console_util import ccap, get_git_commit, get_git_commit_message

    ccap(["touch", str(tmp_path / "made")])
    assert (tmp_path / "made").exists() and "CMD: touch" in capsys.readouterr().out
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, check=True, capture_output=True,
                          text=True).stdout
    assert get_git_commit(cwd=str(tmp_path)) == head
    assert get_git_commit_message(cwd=str(tmp_path)).strip() == "first"


# ---- vec_env ------------------------------------------------------------------------------------------------


class DictCounterEnv(gymnasium.Env):
    """Dict observations {'count': steps so far, 'flag': 7}; the episode ends after `length` steps."""

    def __init__(self, length: int = 2) -> None:
        self.length = length
        self.observation_space = gymnasium.spaces.Dict({
            "count": gymnasium.spaces.Box(0.0, 100.0, (1,), np.float32),
            "flag": gymnasium.spaces.Box(0, 255, (2,), np.uint8),
        })
        self.action_space = gymnasium.spaces.Discrete(2)
        self.count = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.count = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        self.count += 1
        return self._obs(), 1.0, self.count >= self.length, False, {}

    def _obs(self) -> dict[str, np.ndarray]:
        return {"count": np.array([self.count], np.float32), "flag": np.full(2, 7, np.uint8)}


VENVS: dict[str, Callable[[list[Callable[[], gymnasium.Env]]], VecEnv]] = {
    "dummy": DummyVecEnv,
    "subproc": SubprocVecEnv,
    "shmem": ShmemVecEnv,
}


@pytest.mark.parametrize("kind", VENVS)
def test_vec_extract_dict_obs_shows_one_key(kind: str) -> None:
    with VecExtractDictObs(VENVS[kind]([DictCounterEnv, DictCounterEnv]), key="count") as venv:
        assert venv.observation_space == gymnasium.spaces.Box(0.0, 100.0, (1,), np.float32)
        np.testing.assert_array_equal(venv.reset(), [[0.0], [0.0]])
        obs, rewards, dones, infos = venv.step(np.array([0, 1]))
        np.testing.assert_array_equal(obs, [[1.0], [1.0]])
        obs, rewards, dones, infos = venv.step(np.array([0, 1]))
        # the episodes end at step 2: obs is the next episode's first, the info the last one, extracted too
        assert dones.all() and np.array_equal(obs, [[0.0], [0.0]])
        np.testing.assert_array_equal(infos[0][TERMINAL_OBSERVATION], [2.0])


def test_vec_extract_dict_obs_refuses_other_spaces_and_keys() -> None:
    with DummyVecEnv([lambda: gymnasium.make("CartPole-v1")]) as venv, pytest.raises(TypeError, match="Dict"):
        VecExtractDictObs(venv, "count")
    with DummyVecEnv([DictCounterEnv]) as venv, pytest.raises(KeyError, match="nope"):
        VecExtractDictObs(venv, "nope")


def test_vec_env_observation_wrapper_needs_process() -> None:
    class Doubled(VecEnvObservationWrapper):
        def process(self, obs: Any) -> Any:
            return obs * 2

    with pytest.raises(TypeError):
        VecEnvObservationWrapper(DummyVecEnv([DictCounterEnv]))  # type: ignore[abstract]
    with Doubled(VecExtractDictObs(DummyVecEnv([DictCounterEnv]), "flag")) as venv:
        np.testing.assert_array_equal(venv.reset(), [[14, 14]])


def test_cloudpickle_wrapper_keeps_baselines_x() -> None:
    import pickle

    from baselines_tf2.common.vec_env.vec_env import CloudpickleWrapper

    wrapper = pickle.loads(pickle.dumps(CloudpickleWrapper(x=lambda: 42)))  # a lambda: plain pickle cannot
    assert wrapper.x() == 42


# ---- plotting -----------------------------------------------------------------------------------------------


def test_smooth_valid_only_blanks_cut_windows() -> None:
    from baselines_tf2.common.plot_util import smooth

    y = np.array([0.0, 0.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(smooth(y, radius=1, valid_only=True), [np.nan, 1, 1, 1, np.nan])
    np.testing.assert_allclose(smooth(y, 2, "causal", True), [np.nan, np.nan, 1.5, 1.5, 0])


def write_run(folder: Path, env_id: str, lengths: list[int], returns: list[float]) -> None:
    """A run folder holding one monitor.csv of the given episodes."""
    folder.mkdir(parents=True)
    rows = "".join(f"{r},{n},{i}.0\n" for i, (r, n) in enumerate(zip(returns, lengths)))
    (folder / "0.monitor.csv").write_text(f'#{{"t_start": 0.0, "env_id": "{env_id}"}}\nr,l,t\n{rows}')


def test_results_plotter_plot_results_takes_baselines_call(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from baselines_tf2 import results_plotter
    from baselines_tf2.common import plot_util

    write_run(tmp_path / "Pong-seed0", "PongNoFrameskip-v4", [10] * 30, [float(i) for i in range(30)])
    write_run(tmp_path / "Breakout-seed0", "BreakoutNoFrameskip-v4", [5] * 30, [1.0] * 30)
    figure = results_plotter.plot_results([str(tmp_path)], 10e6, results_plotter.X_TIMESTEPS,
                                          results_plotter.Y_TIMESTEPS, "my title",
                                          split_fn=results_plotter.split_by_task)
    titles = sorted(ax.get_title() for ax in figure.axes if ax.get_visible())
    assert titles == ["Breakout", "Pong"]  # split_by_task: the folder name before its first '-'
    assert figure.get_suptitle() == "my title"
    assert {ax.get_ylabel() for ax in figure.axes if ax.get_visible()} == {"episode length"}
    results = plot_util.load_results(str(tmp_path))
    figure, axes = plot_util.plot_results(results, tiling="horizontal", smooth_step=2.0, average_group=False,
                                          xy_fn=plot_util.default_xy_fn, split_fn=plot_util.default_split_fn)
    assert axes.shape == (1, 2)
    figure, axes = plot_util.plot_results(results, tiling="vertical", smooth_step=1.0)
    assert axes.shape == (2, 1)


def cartpole_rollout(model: Any, nsteps: int = 64) -> dict[str, np.ndarray]:
    """baselines' runner by hand: nsteps of one seeded CartPole with model.step, returns by discounting."""
    from baselines_tf2.common.math_util import discount_with_dones
    from baselines_tf2.common.vec_env import DummyVecEnv

    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    env.seed(0)
    obs, columns = env.reset(), {name: [] for name in ("obs", "actions", "values", "neglogpacs", "rewards", "dones")}
    for _ in range(nsteps):
        actions, values, _states, neglogpacs = model.step(obs)
        for name, value in (("obs", obs[0]), ("actions", actions[0]), ("values", values[0]),
                            ("neglogpacs", neglogpacs[0])):
            columns[name].append(value)
        obs, rewards, dones, _infos = env.step(actions)
        columns["rewards"].append(rewards[0])
        columns["dones"].append(dones[0])
    env.close()
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    arrays["returns"] = np.asarray(discount_with_dones(arrays["rewards"], arrays["dones"], 0.99), np.float32)
    arrays["masks"] = np.concatenate([[0.0], arrays["dones"][:-1]]).astype(np.float32)
    return arrays


def test_ppo2_and_a2c_models_train_on_arrays_as_baselines_model_train() -> None:
    """baselines code that drives Model.train itself: loss_names, the train signatures, act/train/step_model."""
    from baselines_tf2.a2c import a2c
    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.ppo2 import ppo2

    env = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")])
    ppo = ppo2.learn(network="mlp", env=env, total_timesteps=0, seed=0)
    assert ppo.loss_names == ["policy_loss", "value_loss", "policy_entropy", "approxkl", "clipfrac"]
    assert ppo.act_model is ppo.train_model is ppo.policy
    data = cartpole_rollout(ppo)
    first = ppo.train(1e-3, 0.2, data["obs"], data["returns"], data["masks"], data["actions"], data["values"],
                      data["neglogpacs"])
    assert len(first) == 5 and first[3] == pytest.approx(0.0, abs=1e-9)  # the first step sees the old policy
    for _ in range(30):
        last = ppo.train(1e-3, 0.2, data["obs"], data["returns"], data["masks"], data["actions"], data["values"],
                         data["neglogpacs"])
    assert last[0] < first[0] - 0.01  # the clipped surrogate improves on the batch it is fitted to
    assert last[3] > 0.0 and last[4] > 0.0  # the policy moved away from the one that collected the data

    model = a2c.learn(network="mlp", env=env, total_timesteps=0, seed=0)
    assert model.loss_names == ["policy_loss", "value_loss", "policy_entropy"] and model.step_model is model.policy
    data = cartpole_rollout(model, nsteps=5)
    before = model.train(data["obs"], None, data["returns"], data["masks"], data["actions"], data["values"])
    for _ in range(30):
        after = model.train(data["obs"], None, data["returns"], data["masks"], data["actions"], data["values"])
    assert len(before) == 3 and after[1] < before[1] - 0.05  # the value fit improves (RMSprop at 7e-4: slowly)
    env.close()


def test_ddpg_models_build_on_first_call_and_list_baselines_variable_sets() -> None:
    import tensorflow as tf

    from baselines_tf2.ddpg.models import Actor, Critic

    actor, critic = Actor(2, network="mlp", num_hidden=8, layer_norm=True), Critic(network="mlp", num_hidden=8)
    assert actor.vars == actor.trainable_vars == actor.perturbable_vars == []  # nothing before the first call
    obs = tf.zeros((3, 5))
    actions = actor(obs)
    assert actions.shape == (3, 2) and critic(obs, actions).shape == (3, 1)
    assert actor(obs, reuse=True) is not None and len(actor.vars) == len(actor.trainable_vars)
    norms = [v for v in actor.trainable_vars if v.path.endswith(("/gamma", "/beta"))]  # the layer norms' scales
    assert len(norms) == 4  # gamma and beta of each of the 2 hidden layers' norms
    assert len(actor.perturbable_vars) == len(actor.trainable_vars) - len(norms)  # baselines: all but LayerNorm's
    assert [v.path for v in critic.output_vars] == [v.path for v in critic.model.get_layer("output").weights]


def test_noise_and_replay_follow_numpy_global_seed_as_baselines() -> None:
    """baselines drew action noise and replay samples from NumPy's global generator: np.random.seed repeats them."""
    from baselines_tf2.ddpg.memory import Memory
    from baselines_tf2.ddpg.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    def draws() -> list[np.ndarray]:
        normal, ou = NormalActionNoise(np.zeros(2), np.ones(2)), OrnsteinUhlenbeckActionNoise(np.zeros(2), np.ones(2))
        memory = Memory(limit=100, action_shape=(1,), observation_shape=(2,))
        for i in range(50):
            memory.append(np.full(2, i), np.zeros(1), 0.0, np.full(2, i + 1), False)
        return [normal(), ou(), ou(), memory.sample(8)["obs0"]]

    np.random.seed(3)
    first = draws()
    np.random.seed(3)
    second = draws()
    np.random.seed(4)
    third = draws()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not any(np.array_equal(a, c) for a, c in zip(first, third))
