"""Review of the common utilities baselines users call directly (session 21): each test is a bug a user hit."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pandas
import pytest

from baselines_tf2 import logger
from baselines_tf2.bench import LoadMonitorResultsError, ResultsWriter, load_results
from baselines_tf2.common.math_util import discount_with_boundaries
from baselines_tf2.common.mpi_running_mean_std import RunningMeanStd as MpiRunningMeanStd
from baselines_tf2.common.running_mean_std import RunningMeanStd
from baselines_tf2.common.vec_env import DummyVecEnv


class FailsOnSecondStep(gymnasium.Env):
    """A counter env whose second step (over its life) raises, as a flaky simulator might."""

    observation_space = gymnasium.spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self) -> None:
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        if self.steps == 2:
            raise RuntimeError("simulator glitch")
        return np.full(1, self.steps, np.float32), 1.0, False, False, {}


@pytest.fixture
def clean_logger() -> Any:
    logger.reset()
    yield
    logger.reset()


def test_dummy_vec_env_steps_again_after_a_step_that_raised() -> None:
    # baselines' DummyVecEnv could be reset and stepped after an env raised; ours then refused every step with
    # "step_async() called twice", even after reset()
    venv = DummyVecEnv([FailsOnSecondStep])
    venv.reset()
    venv.step([0])
    with pytest.raises(RuntimeError, match="simulator glitch"):
        venv.step([0])
    venv.reset()
    _obs, rewards, _dones, _infos = venv.step([0])
    assert rewards.tolist() == [1.0]


def test_dummy_vec_env_reports_a_wrong_action_count_after_a_rejected_action() -> None:
    # the first bad call left its actions pending, so the second bad call got AlreadySteppingError instead of
    # the message naming its own mistake
    venv = DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
    venv.reset()
    with pytest.raises(AssertionError):
        venv.step(np.zeros((2, 1), dtype=np.int64))  # CartPole refuses an action of shape (1,)
    with pytest.raises(ValueError, match="got 3 actions for 2 envs"):
        venv.step(np.zeros(3, dtype=np.int64))


@pytest.mark.usefixtures("clean_logger")
@pytest.mark.parametrize(
    ("values", "expected"),
    [([math.inf, 1.0], math.inf), ([math.inf, math.inf], math.inf), ([1.0, math.inf], math.inf), ([1.0, 2.0], 1.5)],
)
def test_logkv_mean_of_infinite_values_is_infinite(values: list[float], expected: float) -> None:
    # the mean of [inf, 1] is inf (baselines logged inf); ours logged NaN
    logger.configure(None, format_strs=[])
    for value in values:
        logger.logkv_mean("kl", value)
    assert logger.dumpkvs()["kl"] == expected


def test_discount_with_boundaries_of_integer_rewards_is_not_truncated() -> None:
    rewards = np.array([1, 1, 1])
    new = np.array([0, 0, 0])
    # y2 = 1; y1 = 1 + 0.9 * 1 = 1.9; y0 = 1 + 0.9 * 1.9 = 2.71 (an int array held 1, 1, 1)
    np.testing.assert_allclose(discount_with_boundaries(rewards, new, 0.9), [2.71, 1.9, 1.0])


def test_discount_with_boundaries_keeps_float32() -> None:
    rewards = np.ones((3, 2), np.float32)
    assert discount_with_boundaries(rewards, np.zeros((3, 2)), 0.5).dtype == np.float32


@pytest.mark.parametrize("cls", [RunningMeanStd, MpiRunningMeanStd])
def test_running_mean_std_takes_an_int_shape(cls: type) -> None:
    # baselines' RunningMeanStd(shape=3) built np.zeros(3); ours raised "'int' object is not iterable"
    stats = cls(shape=3)
    stats.update(np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]))
    assert stats.mean.shape == (3,)
    np.testing.assert_allclose(stats.mean, [2.0, 3.0, 4.0], rtol=1e-2)


def test_results_writer_without_header_writes_a_loadable_monitor_file(tmp_path: Path) -> None:
    # baselines' ResultsWriter(filename, header='', extra_keys=()) needed only the file name; ours required a header
    writer = ResultsWriter(str(tmp_path / "0"), extra_keys=("level",))
    writer.write_row({"r": 3.0, "l": 4, "t": 0.5, "level": 2})
    writer.close()
    frame = load_results(tmp_path)
    assert frame[["r", "l", "level"]].values.tolist() == [[3.0, 4, 2]]


def test_load_results_skips_an_empty_monitor_file(tmp_path: Path) -> None:
    # baselines' load_results skipped a monitor file with no header line (a process killed as it opened it);
    # ours refused the whole folder
    writer = ResultsWriter(str(tmp_path / "0"), header={"t_start": 100.0})
    writer.write_row({"r": 1.0, "l": 2, "t": 3.0})
    writer.close()
    (tmp_path / "1.monitor.csv").write_text("")
    frame = load_results(tmp_path)
    assert isinstance(frame, pandas.DataFrame)
    assert frame[["r", "l", "t"]].values.tolist() == [[1.0, 2, 3.0]]


def test_load_results_of_only_empty_monitor_files_raises_load_error(tmp_path: Path) -> None:
    (tmp_path / "0.monitor.csv").write_text("")
    with pytest.raises(LoadMonitorResultsError, match="no episodes"):
        load_results(tmp_path)


@pytest.mark.parametrize("kind", ["dummy", "subproc"])
@pytest.mark.parametrize("bare_action", [1, np.int64(1), np.array(1)])
def test_a_bare_action_for_several_envs_is_a_clear_error(kind: str, bare_action: Any) -> None:
    # was TypeError "object of type 'int' has no len()" / "len() of unsized object"
    from baselines_tf2.common.vec_env import SubprocVecEnv

    make = DummyVecEnv if kind == "dummy" else SubprocVecEnv
    with make([lambda: gymnasium.make("CartPole-v1")] * 2) as venv:
        venv.reset()
        with pytest.raises(ValueError, match="one action per env"):
            venv.step(bare_action)
        assert venv.step(np.zeros(2, dtype=np.int64))[1].tolist() == [1.0, 1.0]  # still usable
