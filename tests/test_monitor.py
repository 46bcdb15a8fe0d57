"""baselines_tf2.bench: Monitor's episode records on real envs, the monitor.csv format, and load_results."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ale_py
import gymnasium
import numpy as np
import pytest

from baselines_tf2.bench import LoadMonitorResultsError, Monitor, ResultsWriter, get_monitor_files, load_results

gymnasium.register_envs(ale_py)


def play_episodes(env: Monitor, episodes: int, seed: int) -> list[tuple[float, int, dict[str, Any]]]:
    """Random actions until `episodes` end; return (summed reward, step count, final info) counted by the test."""
    env.action_space.seed(seed)
    env.reset(seed=seed)
    counted = []
    total, length = 0.0, 0
    while len(counted) < episodes:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += float(reward)
        length += 1
        if terminated or truncated:
            counted.append((total, length, info))
            total, length = 0.0, 0
            if len(counted) < episodes:
                env.reset()
        else:
            assert "episode" not in info, "only the last step of an episode carries info['episode']"
    return counted


def read_monitor_file(path: Path) -> tuple[dict[str, Any], list[str], list[list[str]]]:
    """Split a monitor.csv into its JSON header, column names and rows."""
    first, columns, *rows = path.read_text().splitlines()
    assert first.startswith("#")
    return json.loads(first[1:]), columns.split(","), [row.split(",") for row in rows]


def test_cartpole_episode_info_matches_counted_rewards(tmp_path: Path) -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path / "cartpole"))
    counted = play_episodes(env, episodes=3, seed=0)
    env.close()
    for total, length, info in counted:
        assert info["episode"]["r"] == pytest.approx(total) and info["episode"]["l"] == length
    times = [info["episode"]["t"] for _, _, info in counted]
    assert times == sorted(times) and times[0] >= 0.0
    assert env.get_episode_rewards() == [total for total, _, _ in counted]
    assert env.get_episode_lengths() == [length for _, length, _ in counted]
    assert env.get_episode_times() == times
    assert env.get_total_steps() == sum(length for _, length, _ in counted)


def test_monitor_csv_has_json_header_columns_and_one_row_per_episode(tmp_path: Path) -> None:
    before = time.time()
    env = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path / "run"))
    counted = play_episodes(env, episodes=2, seed=1)
    path = tmp_path / "run.monitor.csv"
    header, columns, rows = read_monitor_file(path)  # read before close: rows are flushed per episode
    env.close()
    assert header["env_id"] == "CartPole-v1" and before <= header["t_start"] <= time.time()
    assert header["t_start"] == env.tstart  # baselines' attribute name
    assert path.name.endswith(Monitor.EXT)  # baselines' glob('*' + Monitor.EXT) finds it
    assert columns == ["r", "l", "t"]
    assert [(float(r), int(length)) for r, length, _ in rows] == [(total, length) for total, length, _ in counted]
    assert [float(t) for _, _, t in rows] == [info["episode"]["t"] for _, _, info in counted]


def test_breakout_episode_info_and_info_keywords(tmp_path: Path) -> None:
    env = Monitor(gymnasium.make("BreakoutNoFrameskip-v4"), str(tmp_path), info_keywords=("lives",))
    [(total, length, info)] = play_episodes(env, episodes=1, seed=0)
    env.close()
    assert info["episode"]["r"] == total and info["episode"]["l"] == length and info["episode"]["lives"] == 0
    header, columns, rows = read_monitor_file(tmp_path / "monitor.csv")
    assert header["env_id"] == "BreakoutNoFrameskip-v4"
    assert columns == ["r", "l", "t", "lives"]
    assert [(float(rows[0][0]), int(rows[0][1]), rows[0][3])] == [(total, length, "0")]


def test_load_results_concatenates_two_monitor_files(tmp_path: Path) -> None:
    first = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path / "0"))
    counted_first = play_episodes(first, episodes=2, seed=2)
    time.sleep(0.01)
    second = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path / "1"))
    counted_second = play_episodes(second, episodes=3, seed=3)
    first.close()
    second.close()
    assert [Path(p).name for p in get_monitor_files(tmp_path)] == ["0.monitor.csv", "1.monitor.csv"]

    results = load_results(tmp_path)
    assert list(results.columns) == ["r", "l", "t"] and len(results) == 5
    assert results["t"].is_monotonic_increasing
    starts = [header["t_start"] for header in results.headers]
    assert starts == [first.t_start, second.t_start] and results.attrs["headers"] == results.headers
    # t is seconds since the earliest t_start, so the second file's episodes are shifted by the gap between starts
    shift = second.t_start - first.t_start
    expected = sorted(
        [(info["episode"]["t"], total, length) for total, length, info in counted_first]
        + [(info["episode"]["t"] + shift, total, length) for total, length, info in counted_second]
    )
    np.testing.assert_allclose(results["t"].to_numpy(), [t for t, _, _ in expected], atol=1e-5)
    assert results["r"].tolist() == [r for _, r, _ in expected]
    assert results["l"].tolist() == [length for _, _, length in expected]


def test_load_results_without_monitor_files_raises(tmp_path: Path) -> None:
    (tmp_path / "progress.csv").write_text("a\n1\n")
    with pytest.raises(LoadMonitorResultsError, match="no files matching"):
        load_results(tmp_path)
    (tmp_path / "bad.monitor.csv").write_text("r,l,t\n1,2,3\n")
    with pytest.raises(LoadMonitorResultsError, match="header line"):
        load_results(tmp_path)


def test_early_reset_raises_unless_allowed() -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), None)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(RuntimeError, match="allow_early_resets=True"):
        env.reset()

    lenient = Monitor(gymnasium.make("CartPole-v1"), None, allow_early_resets=True)
    lenient.reset(seed=0)
    lenient.step(0)
    lenient.reset(seed=0)
    [(total, length, info)] = play_episodes(lenient, episodes=1, seed=0)
    assert lenient.get_episode_lengths() == [length], "the abandoned episode is not recorded"
    assert lenient.get_total_steps() == length + 1


def test_step_after_episode_end_requires_reset() -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), None)
    play_episodes(env, episodes=1, seed=0)
    with pytest.raises(RuntimeError, match="needs reset"):
        env.step(0)


def test_reset_passes_seed_and_options_through() -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), None, allow_early_resets=True)
    first, _ = env.reset(seed=7)
    again, _ = env.reset(seed=7)
    narrow, _ = env.reset(seed=7, options={"low": -0.001, "high": 0.001})
    np.testing.assert_array_equal(first, again)
    assert np.all(np.abs(narrow) <= 0.001) and np.any(np.abs(first) > 0.001)


def test_reset_keywords_come_from_options(tmp_path: Path) -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path), reset_keywords=("low",))
    with pytest.raises(ValueError, match=r"reset_keywords \['low'\]"):
        env.reset(seed=0)
    env.reset(seed=0, options={"low": -0.01})
    while True:
        *_, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    env.close()
    assert info["episode"]["low"] == -0.01
    _, columns, rows = read_monitor_file(tmp_path / "monitor.csv")
    assert columns == ["r", "l", "t", "low"] and rows[0][3] == "-0.01"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("run", "run.monitor.csv"), ("run.monitor.csv", "run.monitor.csv"), ("0.csv", "0.csv.monitor.csv")],
)
def test_filename_rule(tmp_path: Path, given: str, expected: str) -> None:
    writer = ResultsWriter(str(tmp_path / given), header={"t_start": 0.0, "env_id": None})
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == [expected]
    subdir = tmp_path / "dir"
    subdir.mkdir()
    ResultsWriter(str(subdir), header={"t_start": 0.0, "env_id": None}).close()
    assert [p.name for p in subdir.iterdir()] == ["monitor.csv"]


def test_override_existing_false_appends_under_the_first_header(tmp_path: Path) -> None:
    first = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path))
    play_episodes(first, episodes=1, seed=0)
    first.close()
    second = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path), override_existing=False)
    play_episodes(second, episodes=1, seed=1)
    second.close()
    header, columns, rows = read_monitor_file(tmp_path / "monitor.csv")
    assert header["t_start"] == first.t_start and columns == ["r", "l", "t"] and len(rows) == 2
    with pytest.raises(ValueError, match="columns"):
        Monitor(gymnasium.make("CartPole-v1"), str(tmp_path), info_keywords=("x",), override_existing=False)


def test_bench_does_not_import_tensorflow() -> None:
    probe = (
        "import sys, baselines_tf2.bench\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_envs_made_by_make_env_append_to_an_existing_monitor_file(tmp_path: Path) -> None:
    """A restarted env worker or a resumed run writes into the same monitor file without erasing its episodes."""
    from baselines_tf2.common.cmd_util import make_env

    for seed in (0, 1):
        env = make_env("CartPole-v1", "classic_control", logger_dir=str(tmp_path))
        env.reset(seed=seed)
        while not any(env.step(env.action_space.sample())[2:4]):
            pass
        env.close()
    assert len(load_results(str(tmp_path))) == 2
