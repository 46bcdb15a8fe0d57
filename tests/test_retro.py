"""Retro games through stable-retro, on the Airstriker-Genesis ROM its wheel ships: baselines' retro wrappers, the
retro branch of make_env / make_vec_env, and a short command-line run.

A process may run one retro emulator at a time, so every in-process env here is closed before the next is made.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import cv2
import gymnasium
import numpy as np
import pytest
from cli_helpers import RUN, run_concurrently

from baselines_tf2.common import retro_wrappers
from baselines_tf2.common.cmd_util import get_env_type, make_env, make_vec_env
from baselines_tf2.common.retro_wrappers import (
    AllowBacktracking,
    AppendTimeout,
    Downsample,
    MovieRecord,
    PartialFrameStack,
    RewardScaler,
    Rgb2gray,
    SonicDiscretizer,
    StartDoingRandomActionsWrapper,
    StochasticFrameSkip,
    make_retro,
    wrap_deepmind_retro,
)
from baselines_tf2.common.vec_env import SubprocVecEnv, VecFrameStack
from baselines_tf2.common.wrappers import TimeLimit
from baselines_tf2.training.checkpoint import read_metadata

retro = pytest.importorskip("stable_retro", reason="the retro extra (stable-retro) is not installed")

GAME = "Airstriker-Genesis"  # baselines' id form; stable-retro 1.0 calls it Airstriker-Genesis-v0
CLI_TIMEOUT_S = 150


@pytest.fixture
def raw_game() -> Iterator[gymnasium.Env]:
    """The bare RetroEnv (RGB 224x320 frames, MultiBinary(12) buttons), closed afterwards."""
    env = retro.make(retro_wrappers.retro_game_id(GAME), render_mode=None)
    yield env
    env.close()


class ScriptedEnv(gymnasium.Env):
    """Pays `rewards` in turn and logs the actions it receives; episodes end when the rewards run out."""

    observation_space = gymnasium.spaces.Box(0, 255, (2, 2, 1), np.uint8)
    action_space = gymnasium.spaces.Discrete(3)

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = rewards
        self.actions: list[int] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.actions.clear()
        return np.zeros((2, 2, 1), np.uint8), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict]:
        self.actions.append(int(action))
        reward = self.rewards[len(self.actions) - 1]
        return np.zeros((2, 2, 1), np.uint8), reward, len(self.actions) == len(self.rewards), False, {}


# ---- without an emulator --------------------------------------------------------------------------------------


def test_retro_modules_import_without_tensorflow_or_stable_retro() -> None:
    probe = (
        "import sys\n"
        "import baselines_tf2.common.retro_wrappers, baselines_tf2.common.cmd_util\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'stable_retro'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_missing_stable_retro_names_the_retro_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "stable_retro", None)  # as if not installed: importing it raises ImportError
    extra = r"pip install -e '\.\[retro\]'"
    with pytest.raises(ImportError, match=extra):
        make_retro(game=GAME)
    with pytest.raises(ImportError, match=extra):
        make_env(GAME, "retro")
    with pytest.raises(ValueError, match=f"unknown environment id 'Airstriker-Genesis'.*{extra}"):
        get_env_type(GAME)


def test_stochastic_frame_skip_repeats_and_sticks_as_baselines() -> None:
    never_sticks = StochasticFrameSkip(ScriptedEnv([1.0] * 8), n=4, stickprob=0.0)
    never_sticks.reset(seed=0)
    assert never_sticks.step(1)[1] == 4.0  # 4 frames of reward 1
    never_sticks.step(2)
    assert never_sticks.unwrapped.actions == [1, 1, 1, 1, 2, 2, 2, 2]

    always_sticks = StochasticFrameSkip(ScriptedEnv([1.0] * 6), n=4, stickprob=1.0)
    always_sticks.reset(seed=0)
    always_sticks.step(1)
    _, reward, terminated, _, _ = always_sticks.step(2)
    # the first frame after a reset takes the new action; later steps keep the old one for their first frame;
    # the episode ends at frame 6, so the second step stops after 2 frames
    assert always_sticks.unwrapped.actions == [1, 1, 1, 1, 1, 2]
    assert (reward, terminated) == (2.0, True)


def test_allow_backtracking_pays_only_new_ground_and_reward_scaler_scales() -> None:
    env = AllowBacktracking(ScriptedEnv([1.0, -1.0, -1.0, 1.0, 1.0, 1.0]))
    env.reset()
    # x: 1, 0, -1, 0, 1, 2; best so far: 1, 1, 1, 1, 1, 2 -> rewards are the best's moves
    assert [env.step(0)[1] for _ in range(6)] == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    scaled = RewardScaler(ScriptedEnv([3.0]))  # baselines' default scale 0.01
    scaled.reset()
    assert scaled.step(0)[1] == pytest.approx(0.03)


# ---- the Airstriker-Genesis ROM -------------------------------------------------------------------------------


def test_retro_ids_are_recognised_with_and_without_version() -> None:
    assert get_env_type(GAME) == "retro"
    assert get_env_type(GAME + "-v0") == "retro"
    with pytest.raises(ValueError, match="did you mean Airstriker-Genesis"):
        get_env_type("Airstrike-Genesis")


def test_make_env_gives_baselines_frames_and_deepmind_retro_defaults() -> None:
    env = make_env(GAME, "retro", seed=0, gamestate="Level1")
    try:
        assert env.observation_space == gymnasium.spaces.Box(0, 255, (84, 84, 1), np.uint8)
        assert isinstance(env.action_space, gymnasium.spaces.Discrete)  # retro.Actions.DISCRETE, as baselines
        time_limit = env.get_wrapper_attr("_max_episode_steps")
        assert time_limit == 10000
        obs, _ = env.reset(seed=0)
        assert obs.shape == (84, 84, 1) and obs.dtype == np.uint8
    finally:
        env.close()
    env = wrap_deepmind_retro(make_retro(game=GAME))  # baselines' defaults: 4 frames, scaled to [0, 1]
    try:
        assert isinstance(env.unwrapped, retro.RetroEnv)
        obs = np.asarray(env.reset(seed=0)[0])
        assert obs.shape == (84, 84, 4) and obs.dtype == np.float32 and 0.0 <= obs.min() <= obs.max() <= 1.0
    finally:
        env.close()


def play(env: gymnasium.Env, seed: int, actions: list[int]) -> tuple[np.ndarray, list[float]]:
    frames = [env.reset(seed=seed)[0]]
    rewards = []
    for action in actions:
        obs, reward, _, _, _ = env.step(action)
        frames.append(obs)
        rewards.append(reward)
    return np.stack(frames), rewards


def test_seeded_reset_repeats_the_game_and_stepping_goes_on() -> None:
    env = make_env(GAME, "retro", seed=0)
    try:
        actions = [int(a) for a in np.random.default_rng(0).integers(env.action_space.n, size=40)]
        first_frames, first_rewards = play(env, 5, actions)
        play(env, 6, actions[::-1])
        again_frames, again_rewards = play(env, 5, actions)
        np.testing.assert_array_equal(first_frames, again_frames)
        assert first_rewards == again_rewards
        assert first_frames[1:].std() > 0  # the game moved
    finally:
        env.close()


def test_an_unknown_state_and_a_second_emulator_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"no state 'Level9'; its states: Level1"):
        make_env(GAME, "retro", gamestate="Level9")
    env = make_retro(game=GAME)
    try:
        with pytest.raises(RuntimeError, match="one retro emulator at a time"):
            make_retro(game=GAME)
    finally:
        env.close()
    make_retro(game=GAME).close()  # the emulator is free again once its env is closed


def test_image_wrappers(raw_game: gymnasium.Env) -> None:
    raw_frame = raw_game.reset(seed=0)[0]
    gray = Rgb2gray(raw_game)
    assert gray.observation_space.shape == (224, 320, 1)
    np.testing.assert_array_equal(gray.observation(raw_frame), cv2.cvtColor(raw_frame, cv2.COLOR_RGB2GRAY)[..., None])
    small = Downsample(raw_game, 2)
    assert small.observation_space.shape == (112, 160, 3) and small.observation(raw_frame).shape == (112, 160, 3)
    assert Downsample(gray, 4).observation_space.shape == (56, 80, 1)

    stacked = PartialFrameStack(raw_game, 4, channel=1)
    assert stacked.observation_space.shape == (224, 320, 6)
    obs, _ = stacked.reset(seed=0)
    first = obs[..., 3:].copy()
    np.testing.assert_array_equal(obs[..., :3], np.repeat(first[..., 1:2], 3, axis=2))  # green of the older frames
    for _ in range(30):
        obs = stacked.step(np.zeros(12, np.int8))[0]
    np.testing.assert_array_equal(obs[..., 2], stacked.frames[2][..., 1])
    np.testing.assert_array_equal(obs[..., 3:], stacked.frames[3])


def test_action_and_episode_wrappers(raw_game: gymnasium.Env, tmp_path: Path) -> None:
    sonic = SonicDiscretizer(raw_game)
    assert sonic.action_space == gymnasium.spaces.Discrete(7)
    assert [sonic.unwrapped.buttons[i] for i in np.flatnonzero(sonic.action(3))] == ["DOWN", "RIGHT"]

    timed = AppendTimeout(TimeLimit(raw_game, max_episode_steps=100))
    obs, _ = timed.reset(seed=0)
    assert set(obs) == {"original", "value_estimation_timeout"} and obs["value_estimation_timeout"][0] == 1.0
    assert timed.step(np.zeros(12, np.int8))[0]["value_estimation_timeout"][0] == pytest.approx(0.99)
    with pytest.raises(ValueError, match="time limit"):
        AppendTimeout(raw_game)

    recorder = MovieRecord(raw_game, str(tmp_path), k=2)
    for _ in range(3):  # episodes 0 and 2 are recorded
        recorder.reset()
        recorder.step(np.zeros(12, np.int8))
    raw_game.unwrapped.stop_record()
    assert len(list(tmp_path.glob("*.bk2"))) == 2

    random_start = StartDoingRandomActionsWrapper(raw_game, max_random_steps=20)
    obs, _ = random_start.reset(seed=0)
    assert obs.shape == (224, 320, 3)
    assert random_start.step(random_start.action_space.sample())[0].shape == (224, 320, 3)


def test_make_vec_env_runs_each_retro_env_in_its_own_process() -> None:
    with pytest.raises(ValueError, match="one retro emulator at a time.*'subproc'"):
        make_vec_env(GAME, "retro", 2, 0, force_dummy=True)
    venv = VecFrameStack(make_vec_env(GAME, "retro", 2, seed=0, gamestate="Level1"), 4)
    try:
        assert isinstance(venv.venv, SubprocVecEnv) and venv.venv.recipe["gamestate"] == "Level1"
        obs = venv.reset()
        assert obs.shape == (2, 84, 84, 4) and obs.dtype == np.uint8
        for _ in range(5):
            obs, rewards, dones, infos = venv.step(np.array([venv.action_space.sample() for _ in range(2)]))
        assert obs.shape == (2, 84, 84, 4) and rewards.shape == (2,) and len(infos) == 2
    finally:
        venv.close()


def test_cli_trains_ppo2_on_a_retro_game_and_refuses_gamestate_elsewhere(tmp_path: Path) -> None:
    model = tmp_path / "model"
    results = run_concurrently({
        "train": RUN + ["--alg=ppo2", f"--env={GAME}", "--env_type=retro", "--gamestate=Level1", "--num_timesteps=256",
                        "--num_env=2", "--nsteps=64", "--seed=0", f"--log_path={tmp_path / 'run'}",
                        f"--save_path={model}"],
        "gamestate_on_cartpole": RUN + ["--env=CartPole-v1", "--gamestate=Level1", "--num_timesteps=0"],
    }, tmp_path, timeout=CLI_TIMEOUT_S)
    trained = results["train"]
    assert trained.returncode == 0, trained.stderr[-3000:]
    metadata = read_metadata(model)
    assert metadata["alg"] == "ppo2" and metadata["network"] == "cnn"  # retro's default network, as baselines
    assert metadata["env"]["recipe"]["env_type"] == "retro" and metadata["env"]["recipe"]["gamestate"] == "Level1"
    assert metadata["observation_space"]["shape"] == [84, 84, 4]
    assert sorted(path.name for path in (tmp_path / "run").glob("*.monitor.csv")) == ["0.0.monitor.csv",
                                                                                       "0.1.monitor.csv"]
    refused = results["gamestate_on_cartpole"]
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "python -m baselines_tf2.run: error: --gamestate selects the save state of a retro game; --env=CartPole-v1 "
        "is of type 'classic_control' (give --env_type=retro for a retro game)")
