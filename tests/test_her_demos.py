"""HER demonstration files (`baselines_tf2.her.demos`): the data-only format round-trips, every malformed or hostile
file (pickles, wrong entries, shapes or values, lying headers, truncation) is refused with a ValueError before any
large allocation, `demo_steps` feeds a HerReplayBuffer, and the recorder writes a file from a trained checkpoint."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any, Callable

import gymnasium
import numpy as np
import pytest

from baselines_tf2.her.demos import FORMAT_VERSION, demo_steps, load_demos, save_demos
from baselines_tf2.her.replay_buffer import HerReplayBuffer

OBS, GOAL, ACT = 10, 3, 4  # FetchReach-v4's sizes
OBSERVATION_SPACE = gymnasium.spaces.Dict({
    "observation": gymnasium.spaces.Box(-np.inf, np.inf, (OBS,), np.float64),
    "achieved_goal": gymnasium.spaces.Box(-np.inf, np.inf, (GOAL,), np.float64),
    "desired_goal": gymnasium.spaces.Box(-np.inf, np.inf, (GOAL,), np.float64),
})
ACTION_SPACE = gymnasium.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
PICKLE_REFUSED = "pickled demo files are refused"


def episodes(number: int = 3, steps: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Random episodes of the format's shapes, with actions within ACTION_SPACE."""
    rng = np.random.default_rng(seed)
    return {
        "observation": rng.normal(size=(number, steps + 1, OBS)).astype(np.float32),
        "achieved_goal": rng.normal(size=(number, steps + 1, GOAL)).astype(np.float32),
        "desired_goal": np.repeat(rng.normal(size=(number, 1, GOAL)), steps, axis=1).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(number, steps, ACT)).astype(np.float32),
        "is_success": (rng.random((number, steps)) < 0.5).astype(np.float32),
    }


def write_raw(path: Path, arrays: dict[str, Any]) -> Path:
    """`arrays` written by np.savez as they are (no checks)."""
    np.savez(path, **arrays)
    return path


def load(path: Path, num_demo: int = 100, **kwargs: Any) -> dict[str, np.ndarray]:
    return load_demos(path, OBSERVATION_SPACE, ACTION_SPACE, num_demo, **kwargs)


# ---- the format round-trips ---------------------------------------------------------------------------------


def test_saved_episodes_load_back_unchanged(tmp_path: Path) -> None:
    original = episodes()
    save_demos(tmp_path / "demos.npz", original)
    loaded = load(tmp_path / "demos.npz")
    assert sorted(loaded) == sorted(original)
    for key, array in original.items():
        assert loaded[key].dtype == np.float32
        np.testing.assert_array_equal(loaded[key], array)
    with np.load(tmp_path / "demos.npz", allow_pickle=False) as raw:  # plain numeric arrays, readable by NumPy
        assert raw["format"].tolist() == [FORMAT_VERSION]
    assert [p.name for p in tmp_path.iterdir()] == ["demos.npz"]  # the atomic write left no temporary file


def test_is_success_is_optional_and_float64_input_is_stored_as_float32(tmp_path: Path) -> None:
    original = {key: value.astype(np.float64) for key, value in episodes().items() if key != "is_success"}
    save_demos(tmp_path / "demos.npz", original)
    loaded = load(tmp_path / "demos.npz")
    assert sorted(loaded) == sorted(original)
    np.testing.assert_allclose(loaded["observation"], original["observation"], rtol=1e-6)


def test_num_demo_takes_the_first_episodes_or_all_there_are(tmp_path: Path) -> None:
    original = episodes(number=5)
    save_demos(tmp_path / "demos.npz", original)
    first_two = load(tmp_path / "demos.npz", num_demo=2)
    assert first_two["actions"].shape == (2, 5, ACT)
    np.testing.assert_array_equal(first_two["observation"], original["observation"][:2])
    assert len(load(tmp_path / "demos.npz", num_demo=100)["actions"]) == 5
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="num_demo must be an integer >= 1"):
            load(tmp_path / "demos.npz", num_demo=bad)  # type: ignore[arg-type]


def test_the_module_does_not_import_tensorflow() -> None:
    probe = ("import sys, baselines_tf2.her.demos\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
             "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)


# ---- what save_demos refuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("actions"), "missing \\['actions'\\]"),
    (lambda e: e.update(rewards=e["is_success"]), "unknown \\['rewards'\\]"),
    (lambda e: e.update(observation=e["observation"][:, :-1]), "observation must be \\[3, T\\+1, do\\]"),
    (lambda e: e.update(desired_goal=e["desired_goal"][:2]), "desired_goal must be \\[3, T, dg\\]"),
    (lambda e: e.update(achieved_goal=e["achieved_goal"][..., :2]), "same size dg"),
    (lambda e: e.update(actions=e["actions"][:, :0]), "at least one episode of at least one step"),
    (lambda e: e["observation"].__setitem__((1, 2, 3), np.nan), "observation must be finite"),
    (lambda e: e.update(actions=np.array([[{"u": 0}]], dtype=object)), "must be numeric"),
])
def test_save_refuses_inconsistent_episodes_and_writes_nothing(
        tmp_path: Path, change: Callable[[dict[str, Any]], Any], message: str) -> None:
    bad = episodes()
    change(bad)
    with pytest.raises(ValueError, match=message):
        save_demos(tmp_path / "demos.npz", bad)
    assert not list(tmp_path.iterdir())


# ---- what load_demos refuses --------------------------------------------------------------------------------


class WritesAFileWhenUnpickled:
    """Unpickling this runs `open(marker, 'w')`: proof that a loader unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (self.marker, "w")


def test_baselines_pickled_demo_files_are_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    # baselines' fetch_data_generation.py: np.savez_compressed(file, acs=actions, obs=observations, info=infos)
    # with lists of dicts, which NumPy stores as pickled object arrays
    observations = np.empty((1, 2), dtype=object)
    observations[0, 0] = {"observation": np.zeros(OBS), "probe": WritesAFileWhenUnpickled(str(marker))}
    observations[0, 1] = {"observation": np.zeros(OBS)}
    np.savez_compressed(tmp_path / "baselines.npz", acs=np.zeros((1, 1, ACT)), obs=observations,
                        info=np.array([[{"is_success": 0.0}]], dtype=object))
    with pytest.raises(ValueError, match=PICKLE_REFUSED) as refused:
        load(tmp_path / "baselines.npz")
    assert "record_demos" in str(refused.value) and "save_demos" in str(refused.value)  # says how to convert
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"obs": WritesAFileWhenUnpickled(str(marker))}))
    with pytest.raises(ValueError, match=PICKLE_REFUSED):
        load(tmp_path / "plain.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("desired_goal"), "missing \\['desired_goal'\\]"),
    (lambda e: e.pop("format"), "missing \\['format'\\]"),
    (lambda e: e.update(extra=np.zeros(3)), "unknown \\['extra'\\]"),
    (lambda e: e.update(format=np.array([2])), "format version 2"),
    (lambda e: e.update(format=np.array([1.0])), "format entry must be one integer"),
    (lambda e: e.update(actions=e["actions"].astype(np.int64)), "actions must hold floats"),
    (lambda e: e.update(is_success=e["is_success"].astype(bool)), "is_success must hold floats"),
    (lambda e: e.update(achieved_goal=e["achieved_goal"][:, :-1]), "achieved_goal must be \\[3, T\\+1, dg\\]"),
    (lambda e: e.update(is_success=e["is_success"][:, :, None]), "is_success must be \\[3, T\\]"),
    (lambda e: e.update(observation=np.zeros((3, 6, OBS + 1), np.float32)), "observation has 11 values per step"),
    (lambda e: e.update(actions=np.zeros((3, 5, 2), np.float32)), "the env's action space has 4"),
    (lambda e: e["achieved_goal"].__setitem__((0, 0, 0), np.inf), "achieved_goal must be finite"),
    (lambda e: e["actions"].__setitem__((2, 4, 1), 1.5), "episode 2 step 4"),
])
def test_load_refuses_malformed_files(tmp_path: Path, change: Callable[[dict[str, Any]], Any], message: str) -> None:
    bad: dict[str, Any] = {"format": np.array([FORMAT_VERSION], np.int64), **episodes()}
    change(bad)
    write_raw(tmp_path / "bad.npz", bad)
    with pytest.raises(ValueError, match=message):
        load(tmp_path / "bad.npz")


def test_load_refuses_spaces_it_cannot_check_against(tmp_path: Path) -> None:
    save_demos(tmp_path / "demos.npz", episodes())
    with pytest.raises(ValueError, match="goal envs"):
        load_demos(tmp_path / "demos.npz", gymnasium.spaces.Box(-1, 1, (OBS,)), ACTION_SPACE, 1)
    with pytest.raises(ValueError, match="finite with low < high"):
        load_demos(tmp_path / "demos.npz", OBSERVATION_SPACE, gymnasium.spaces.Box(-np.inf, np.inf, (ACT,)), 1)


def giant_header_npz(path: Path, episodes_declared: int) -> Path:
    """An .npz whose every member's .npy header declares `episodes_declared` episodes of 50 steps (consistent
    shapes, ~10 TB for 10**9 episodes) but holds 16 bytes of data."""
    shapes = {"observation": (51, OBS), "achieved_goal": (51, GOAL), "desired_goal": (50, GOAL),
              "actions": (50, ACT)}
    with zipfile.ZipFile(path, "w") as archive:
        for key, shape in shapes.items():
            member = io.BytesIO()
            np.lib.format.write_array_header_2_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": (episodes_declared, *shape)})
            archive.writestr(f"{key}.npy", member.getvalue() + bytes(16))
        member = io.BytesIO()
        np.lib.format.write_array(member, np.array([FORMAT_VERSION], np.int64))
        archive.writestr("format.npy", member.getvalue())
    return path


def test_a_header_declaring_a_giant_array_is_refused_without_allocating(tmp_path: Path) -> None:
    path = giant_header_npz(tmp_path / "giant.npz", 10**9)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match="declares shape \\(1000000000, 51, 10\\)"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5
    assert peak < 1 << 20, f"refusing the file took {peak} bytes"


def test_more_data_than_max_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    save_demos(tmp_path / "demos.npz", episodes())
    with pytest.raises(ValueError, match="more than max_bytes=1000"):
        load(tmp_path / "demos.npz", max_bytes=1000)
    assert len(load(tmp_path / "demos.npz")["actions"]) == 3


def cut_in_half(data: bytes) -> bytes:
    return data[:len(data) // 2]


def cut_the_end(data: bytes) -> bytes:
    return data[:-10]


def flip_a_data_byte(data: bytes) -> bytes:
    at = data.index(b"\x93NUMPY", data.index(b"observation.npy")) + 200  # inside the observations' data
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("damage", [cut_in_half, cut_the_end, flip_a_data_byte])
def test_truncated_or_corrupt_files_are_a_value_error(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    save_demos(tmp_path / "demos.npz", episodes())
    (tmp_path / "damaged.npz").write_bytes(damage((tmp_path / "demos.npz").read_bytes()))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load(tmp_path / "damaged.npz")


def test_files_of_other_kinds_are_named(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match="single .npy array"):
        load(tmp_path / "one.npy")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="not an .npz demo file"):
        load(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


# ---- demo_steps ---------------------------------------------------------------------------------------------


def test_demo_steps_scale_actions_to_unit_and_end_each_episode() -> None:
    action_space = gymnasium.spaces.Box(np.array([-2, 0], np.float32), np.array([2, 4], np.float32))
    demos = episodes(number=2, steps=3)
    # env units -> [-1, 1]: 2 (a - low) / (high - low) - 1, worked out per column
    demos["actions"] = np.array([[[-2.0, 0.0], [0.0, 2.0], [2.0, 4.0]],  # low -> -1, middle -> 0, high -> 1
                                 [[1.0, 1.0], [-1.0, 3.0], [2.0, 0.0]]], np.float32)  # 0.5, -0.5; -0.5, 0.5
    expected = [[-1, -1], [0, 0], [1, 1], [0.5, -0.5], [-0.5, 0.5], [1, -1]]
    steps = list(demo_steps(demos, action_space))
    assert len(steps) == 6
    np.testing.assert_allclose(np.concatenate([step.actions for step in steps]), expected)
    assert [bool(step.done[0]) for step in steps] == [False, False, True, False, False, True]
    second = steps[4]  # episode 1, step 1
    assert second.actions.shape == (1, 2) and second.done.shape == (1,)
    np.testing.assert_array_equal(second.obs0["observation"], demos["observation"][1, 1][None])
    np.testing.assert_array_equal(second.obs1["observation"], demos["observation"][1, 2][None])
    np.testing.assert_array_equal(second.obs1["achieved_goal"], demos["achieved_goal"][1, 2][None])
    np.testing.assert_array_equal(second.obs1["desired_goal"], demos["desired_goal"][1, 1][None])


def test_demo_steps_fill_a_her_replay_buffer() -> None:
    demos = episodes(number=4, steps=5)
    buffer = HerReplayBuffer(1000, (ACT,), (OBS + GOAL,), seed=0, observation_space=OBSERVATION_SPACE, num_envs=1,
                             compute_reward=lambda achieved, desired, info: -np.ones(len(achieved)))
    for step in demo_steps(demos, ACTION_SPACE):
        buffer.store(step.obs0, step.actions, np.zeros(1), step.obs1, np.zeros(1), step.done, [{}])
    assert buffer.nb_entries == 20
    batch = buffer.sample(64)
    assert batch["obs0"].shape == (64, OBS + GOAL) and batch["actions"].shape == (64, ACT)
    # ACTION_SPACE is [-1, 1], so the unit actions are the recorded ones (up to float32 rounding)
    recorded = demos["actions"].reshape(-1, ACT)
    assert np.abs(batch["actions"][:, None] - recorded[None]).max(axis=2).min(axis=1).max() < 1e-6


# ---- the recorder -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A HER agent trained for 10 epochs of one 50-step cycle on FetchReach-v4, saved."""
    gymnasium_robotics = pytest.importorskip("gymnasium_robotics")
    gymnasium.register_envs(gymnasium_robotics)
    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.her import her

    agent = her.learn(network="mlp", env=DummyVecEnv([lambda: gymnasium.make("FetchReach-v4")]), total_timesteps=500,
                      seed=0, n_cycles=1, n_batches=2, n_test_rollouts=1)
    path = str(tmp_path_factory.mktemp("her") / "fetch_reach")
    agent.save(path)
    return path


def test_the_recorder_writes_episodes_load_demos_reads(
        checkpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from baselines_tf2.her.experiment.data_generation import record_demos

    out = tmp_path / "demos.npz"
    assert record_demos.main([checkpoint, "--env", "FetchReach-v4", "--episodes", "3", "--out", str(out),
                              "--seed", "7"]) == 0
    summary = capsys.readouterr().out
    assert "recorded 3 episodes of 50 steps on FetchReach-v4" in summary and str(out) in summary
    env = gymnasium.make("FetchReach-v4")
    demos = load_demos(out, env.observation_space, env.action_space, num_demo=100)  # type: ignore[arg-type]
    assert demos["observation"].shape == (3, 51, OBS) and demos["actions"].shape == (3, 50, ACT)
    assert demos["is_success"].shape == (3, 50)
    first, _ = env.reset(seed=7)  # the recording's first reset
    np.testing.assert_allclose(demos["observation"][0, 0], first["observation"], rtol=1e-6)
    np.testing.assert_allclose(demos["desired_goal"][0], np.repeat(first["desired_goal"][None], 50, 0), rtol=1e-6)
    assert not np.allclose(demos["desired_goal"][1, 0], demos["desired_goal"][0, 0])  # later resets: new goals
    env.close()


@pytest.mark.parametrize("arguments, message", [
    (["--episodes", "0"], "--episodes must be at least 1, got 0"),
    (["--env", "CartPole-v1"], "'CartPole-v1' is not a goal env"),
    (["--env", "FetchPush-v4"], "was trained with observation space"),  # another goal env: other sizes
    (["--env", "NoSuchEnv-v0"], "unknown environment id 'NoSuchEnv-v0'"),
])
def test_recorder_usage_errors_exit_2_with_one_line(checkpoint: str, tmp_path: Path, arguments: list[str],
                                                    message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from baselines_tf2.her.experiment.data_generation import record_demos

    out = str(tmp_path / "demos.npz")
    for path in (checkpoint, str(tmp_path / "missing")):
        with pytest.raises(SystemExit) as exited:  # argparse keeps the last --env given
            record_demos.main([path, "--env", "FetchReach-v4", "--out", out, *arguments])
        assert exited.value.code == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        expected = message if path == checkpoint or "--episodes" in arguments else "does not exist"
        assert len(errors) == 1 and expected in errors[0], errors
    assert not os.path.exists(out)


class ReachingPolicy:
    """FetchReach's obvious controller (gripper toward the goal), or away from it: succeeds, or never does."""

    def __init__(self, direction: float) -> None:
        self.direction = direction

    def act_deterministic(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, None]:
        toward = 10.0 * self.direction * (obs["desired_goal"] - obs["achieved_goal"])
        return np.concatenate([np.clip(toward, -1, 1), np.zeros((len(toward), 1))], axis=1), None


@pytest.mark.parametrize("direction, status", [(1.0, 0), (-1.0, 1)])
def test_only_successful_keeps_successes_and_gives_up_after_ten_per_episode(
        checkpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        direction: float, status: int) -> None:
    from baselines_tf2.her.experiment.data_generation import record_demos
    from baselines_tf2.training import agent

    monkeypatch.setattr(agent, "load_policy", lambda path: (ReachingPolicy(direction), {}, {}))
    out = tmp_path / "demos.npz"
    assert record_demos.main([checkpoint, "--env", "FetchReach-v4", "--episodes", "2", "--out", str(out),
                              "--only_successful"]) == status
    captured = capsys.readouterr()
    if status == 0:
        assert "recorded the 2 successful of 2 played episodes" in captured.out
        demos = load(out)
        assert demos["is_success"][:, -1].tolist() == [1.0, 1.0]
    else:
        assert "none of the 20 episodes played succeeded" in captured.err
        assert not out.exists()
