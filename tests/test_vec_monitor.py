"""VecMonitor: per-env episode returns and lengths in infos and in a baselines monitor CSV that reads back."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import ale_py
import gymnasium
import numpy as np
import pytest

from baselines_tf2.bench.monitor import Monitor, load_results
from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.vec_monitor import VecMonitor


class RewardCounterEnv(gymnasium.Env):
    """Step t of an episode pays `scale * t`; the episode ends after `length` steps; info carries `level`."""

    def __init__(self, length: int, scale: float, level: str) -> None:
        self.length, self.scale, self.level = length, scale, level
        self.observation_space = gymnasium.spaces.Box(0, 100, (1,), np.float32)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        obs = np.array([self.t], np.float32)
        return obs, self.scale * self.t, self.t == self.length, False, {"level": self.level}


def counter_venv() -> DummyVecEnv:
    """Env 0: episodes of 2 steps paying 1, 2 (return 3). Env 1: 3 steps paying 0.5, 1, 1.5 (return 3)."""
    return DummyVecEnv(
        [
            lambda: RewardCounterEnv(length=2, scale=1.0, level="a"),
            lambda: RewardCounterEnv(length=3, scale=0.5, level="b"),
        ]
    )


def run_steps(venv: VecMonitor, steps: int) -> list[tuple[int, int, dict[str, Any]]]:
    """Step `steps` times; return (step, env index, info['episode']) for every finished episode, in order."""
    venv.reset()
    finished = []
    for step in range(1, steps + 1):
        _obs, _rewards, dones, infos = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
        for index in np.flatnonzero(dones):
            finished.append((step, int(index), infos[index]["episode"]))
        for index in np.flatnonzero(~dones):
            assert "episode" not in infos[index]
    return finished


# By hand over 6 steps: env 0 ends at steps 2, 4, 6 (return 1 + 2 = 3, length 2);
# env 1 ends at steps 3 and 6 (return 0.5 + 1 + 1.5 = 3, length 3).
EXPECTED_ENDS = [(2, 0, 3.0, 2), (3, 1, 3.0, 3), (4, 0, 3.0, 2), (6, 0, 3.0, 2), (6, 1, 3.0, 3)]


def test_episode_records_match_hand_counted_returns_and_lengths() -> None:
    venv = VecMonitor(counter_venv(), keep_buf=3)
    finished = run_steps(venv, 6)
    assert [(step, index, ep["r"], ep["l"]) for step, index, ep in finished] == EXPECTED_ENDS
    times = [ep["t"] for _step, _index, ep in finished]
    assert all(isinstance(t, float) and t >= 0 and t == round(t, 6) for t in times)
    assert times == sorted(times)
    assert venv.episode_count == 5
    assert list(venv.recent_episode_returns) == [3.0, 3.0, 3.0]  # keep_buf=3 keeps the newest three
    assert list(venv.recent_episode_lengths) == [2, 2, 3]
    # baselines' names for the same counters, which scripts written against it read
    assert venv.epcount == 5 and list(venv.epret_buf) == [3.0, 3.0, 3.0] and list(venv.eplen_buf) == [2, 2, 3]
    assert venv.eprets is venv.episode_returns and venv.eplens is venv.episode_lengths
    assert venv.tstart == venv.t_start


def test_unequal_returns_are_not_mixed_between_envs() -> None:
    venv = VecMonitor(
        DummyVecEnv(
            [
                lambda: RewardCounterEnv(length=1, scale=2.0, level="a"),
                lambda: RewardCounterEnv(length=4, scale=1.0, level="b"),
            ]
        )
    )
    finished = run_steps(venv, 4)
    # Env 0 pays 2 and ends every step; env 1 ends at step 4 with 1 + 2 + 3 + 4 = 10.
    assert [(index, ep["r"], ep["l"]) for _step, index, ep in finished] == [(0, 2.0, 1)] * 4 + [(1, 10.0, 4)]


def test_reset_discards_a_partial_episode() -> None:
    venv = VecMonitor(counter_venv())
    run_steps(venv, 1)
    finished = run_steps(venv, 2)  # run_steps resets first
    assert [(index, ep["r"], ep["l"]) for _step, index, ep in finished] == [(0, 3.0, 2)]


def test_csv_has_the_baselines_layout_and_reads_back(tmp_path: Path) -> None:
    venv = VecMonitor(counter_venv(), filename=str(tmp_path), info_keywords=("level",))
    finished = run_steps(venv, 6)
    venv.close()
    path = tmp_path / "monitor.csv"
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    header = json.loads(lines[0][1:])
    assert set(header) == {"t_start", "env_id"} and header["t_start"] == venv.t_start
    rows = list(csv.DictReader(lines[1:]))
    assert list(rows[0]) == ["r", "l", "t", "level"]
    assert [(float(row["r"]), int(row["l"]), row["level"]) for row in rows] == [
        (3.0, 2, "a"), (3.0, 3, "b"), (3.0, 2, "a"), (3.0, 2, "a"), (3.0, 3, "b")
    ]
    assert [float(row["t"]) for row in rows] == [ep["t"] for _step, _index, ep in finished]
    assert finished[1][2]["level"] == "b"
    results = load_results(tmp_path)
    assert results["r"].tolist() == [3.0] * 5
    assert results["l"].tolist() == [2, 3, 2, 2, 3]


def test_env_id_is_recorded_for_registered_envs(tmp_path: Path) -> None:
    venv = VecMonitor(DummyVecEnv([lambda: gymnasium.make("CartPole-v1")]), filename=str(tmp_path / "run"))
    venv.close()
    first_line = (tmp_path / "run.monitor.csv").read_text().splitlines()[0]
    assert json.loads(first_line[1:])["env_id"] == "CartPole-v1"


def test_missing_info_keyword_is_reported_by_name() -> None:
    venv = VecMonitor(counter_venv(), info_keywords=("score",))
    venv.reset()
    venv.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(KeyError, match="score"):
        venv.step(np.zeros(2, dtype=np.int64))


def test_inner_monitor_episode_is_replaced_with_one_warning() -> None:
    def monitored_then_scaled() -> gymnasium.Env:
        """The inner Monitor sees rewards 1, 2 (return 3); VecMonitor sees them times ten (return 30)."""
        monitored = Monitor(RewardCounterEnv(length=2, scale=1.0, level="a"), None)
        return gymnasium.wrappers.TransformReward(monitored, lambda reward: 10.0 * reward)

    venv = VecMonitor(DummyVecEnv([monitored_then_scaled]))
    venv.reset()
    with pytest.warns(UserWarning, match="Monitor") as caught:
        for _ in range(4):
            _obs, _rewards, dones, infos = venv.step(np.zeros(1, dtype=np.int64))
            if dones[0]:
                assert infos[0]["episode"]["r"] == 30.0 and infos[0]["episode"]["l"] == 2
    assert len([w for w in caught if issubclass(w.category, UserWarning)]) == 1
    assert venv.episode_count == 2


def test_no_warning_without_an_inner_monitor() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_steps(VecMonitor(counter_venv()), 6)


def test_negative_keep_buf_is_rejected() -> None:
    with pytest.raises(ValueError, match="keep_buf"):
        VecMonitor(counter_venv(), keep_buf=-1)


def test_breakout_episode_record_equals_the_rewards_counted_by_hand() -> None:
    gymnasium.register_envs(ale_py)

    def short_breakout() -> gymnasium.Env:
        env = wrap_deepmind(make_atari("BreakoutNoFrameskip-v4"), episode_life=False, clip_rewards=False)
        return gymnasium.wrappers.TimeLimit(env, max_episode_steps=60)

    venv = VecMonitor(DummyVecEnv([short_breakout]))
    venv.seed(2)
    venv.reset()
    rng = np.random.default_rng(2)  # with seed 2 these random actions score within 60 steps
    total_reward = 0.0
    for step in range(1, 61):
        _obs, rewards, dones, infos = venv.step(rng.integers(0, 4, size=1))
        total_reward += float(rewards[0])
        assert bool(dones[0]) == (step == 60)
    assert total_reward > 0
    assert infos[0]["episode"]["l"] == 60
    assert infos[0]["episode"]["r"] == total_reward
    venv.close()
