"""Atari wrappers on the real ALE: shapes, noop/fire/life logic, max-pooling, clipping, stacking, make_atari ids."""

from __future__ import annotations

from typing import Any, SupportsFloat

import ale_py
import cv2
import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.atari_wrappers import (
    ClipRewardEnv,
    EpisodicLifeEnv,
    FireResetEnv,
    FrameStack,
    LazyFrames,
    MaxAndSkipEnv,
    NoopResetEnv,
    ScaledFloatFrame,
    WarpFrame,
    make_atari,
    wrap_deepmind,
)

gymnasium.register_envs(ale_py)

BREAKOUT = "BreakoutNoFrameskip-v4"
PONG = "PongNoFrameskip-v4"
FIRE, RIGHT = 1, 2


class Recorder(gymnasium.Wrapper):
    """Test probe: remembers every action, raw frame and reward that passes through step()."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.actions: list[Any] = []
        self.frames: list[np.ndarray] = []
        self.rewards: list[float] = []

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.actions.append(action)
        self.frames.append(np.array(obs, copy=True))
        self.rewards.append(float(reward))
        return obs, reward, terminated, truncated, info


class ScriptedReward(gymnasium.Wrapper):
    """Test stub: replaces the game's rewards with a fixed script, to exercise clipping of big rewards."""

    def __init__(self, env: gymnasium.Env, rewards: list[float]) -> None:
        super().__init__(env)
        self._script = iter(rewards)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, next(self._script), terminated, truncated, info


def frame_number(env: gymnasium.Env) -> int:
    return env.unwrapped.ale.getEpisodeFrameNumber()


def lives(env: gymnasium.Env) -> int:
    return env.unwrapped.ale.lives()


# ---- shapes, dtypes and observation spaces ---------------------------------------------------------


def test_make_atari_gives_raw_rgb_frames() -> None:
    env = make_atari(BREAKOUT)
    obs, _ = env.reset(seed=0)
    assert env.observation_space == gymnasium.spaces.Box(0, 255, (210, 160, 3), np.uint8)
    assert obs.shape == (210, 160, 3) and obs.dtype == np.uint8
    obs, reward, terminated, truncated, info = env.step(0)
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and terminated is False and truncated is False
    assert info["lives"] == 5


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [({}, (84, 84, 1)), ({"grayscale": False}, (84, 84, 3)), ({"width": 64, "height": 48}, (48, 64, 1))],
)
def test_warp_frame_shape_dtype_and_space(kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    env = WarpFrame(make_atari(BREAKOUT), **kwargs)
    obs, _ = env.reset(seed=0)
    assert env.observation_space == gymnasium.spaces.Box(0, 255, shape, np.uint8)
    assert obs.shape == shape and obs.dtype == np.uint8
    assert env.observation_space.contains(env.step(0)[0])


def test_warp_frame_is_gray_then_inter_area_resize() -> None:
    raw = make_atari(PONG)
    raw_obs, _ = raw.reset(seed=1)
    warped_obs, _ = WarpFrame(make_atari(PONG)).reset(seed=1)
    expected = cv2.resize(cv2.cvtColor(raw_obs, cv2.COLOR_RGB2GRAY), (84, 84), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(warped_obs[..., 0], expected)
    nearest = cv2.resize(cv2.cvtColor(raw_obs, cv2.COLOR_RGB2GRAY), (84, 84), interpolation=cv2.INTER_NEAREST)
    assert not np.array_equal(warped_obs[..., 0], nearest)  # the check above can tell interpolations apart


def test_warp_frame_dict_space_key_warps_only_that_entry() -> None:
    env = WarpFrame(gymnasium.make(BREAKOUT, sound_obs=True), dict_space_key="image")
    obs, _ = env.reset(seed=0)
    assert env.observation_space["image"].shape == (84, 84, 1)
    assert env.observation_space["sound"].shape == (512,)
    assert obs["image"].shape == (84, 84, 1) and obs["sound"].shape == (512,)
    with pytest.raises(ValueError, match="dict_space_key='pixels'"):
        WarpFrame(gymnasium.make(BREAKOUT, sound_obs=True), dict_space_key="pixels")


def test_scaled_float_frame_is_float32_in_unit_interval() -> None:
    env = ScaledFloatFrame(WarpFrame(make_atari(BREAKOUT)))
    obs, _ = env.reset(seed=0)
    assert env.observation_space == gymnasium.spaces.Box(0.0, 1.0, (84, 84, 1), np.float32)
    assert obs.dtype == np.float32 and 0.0 <= obs.min() and obs.max() <= 1.0
    assert obs.max() > 0.0  # not all black: the scale kept the picture
    uint8_obs, _ = WarpFrame(make_atari(BREAKOUT)).reset(seed=0)
    np.testing.assert_allclose(obs * 255.0, uint8_obs, atol=1e-4)


@pytest.mark.parametrize(("scale", "dtype"), [(False, np.uint8), (True, np.float32)])
def test_full_deepmind_stack_shapes(scale: bool, dtype: type) -> None:
    env = wrap_deepmind(make_atari(BREAKOUT), frame_stack=True, scale=scale)
    assert env.observation_space.shape == (84, 84, 4) and env.observation_space.dtype == dtype
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        assert isinstance(obs, LazyFrames)
        stacked = np.asarray(obs)
        assert stacked.shape == (84, 84, 4) and stacked.dtype == dtype
        assert env.observation_space.contains(stacked)
        obs, reward, *_ = env.step(RIGHT)
        assert reward in (-1.0, 0.0, 1.0)


def test_wrap_deepmind_applies_wrappers_in_baselines_order() -> None:
    env = wrap_deepmind(make_atari(BREAKOUT), frame_stack=True, scale=True)
    chain = []
    while isinstance(env, gymnasium.Wrapper):
        chain.append(type(env))
        env = env.env
    ours = [cls for cls in chain if cls.__module__.endswith("atari_wrappers")]
    assert ours == [
        FrameStack, ClipRewardEnv, ScaledFloatFrame, WarpFrame,
        FireResetEnv, EpisodicLifeEnv, MaxAndSkipEnv, NoopResetEnv,
    ]


def test_wrap_deepmind_skips_fire_reset_for_games_without_fire() -> None:
    env = wrap_deepmind(make_atari("FreewayNoFrameskip-v4"), frame_stack=True)
    obs, _ = env.reset(seed=0)
    assert np.asarray(obs).shape == (84, 84, 4)


# ---- NoopResetEnv ----------------------------------------------------------------------------------


def test_noop_reset_takes_between_1_and_30_noops_drawn_from_the_seed() -> None:
    recorder = Recorder(gymnasium.make(BREAKOUT))
    env = NoopResetEnv(recorder, noop_max=30)
    counts = []
    for seed in [*range(12), 5]:
        recorder.actions.clear()
        env.reset(seed=seed)
        assert frame_number(env) == len(recorder.actions)  # one frame per noop
        assert set(recorder.actions) == {0}
        counts.append(len(recorder.actions))
    assert all(1 <= count <= 30 for count in counts)
    assert len(set(counts)) > 3  # random, not a constant
    assert counts[-1] == counts[5]  # the same seed gives the same count


def test_noop_reset_respects_small_noop_max() -> None:
    env = NoopResetEnv(gymnasium.make(BREAKOUT), noop_max=2)
    counts = set()
    for seed in range(8):
        env.reset(seed=seed)
        counts.add(frame_number(env))
    assert counts == {1, 2}


# ---- FireResetEnv ----------------------------------------------------------------------------------


def test_fire_reset_presses_fire_then_action_2() -> None:
    recorder = Recorder(gymnasium.make(BREAKOUT))
    env = FireResetEnv(recorder)
    env.reset(seed=0)
    assert recorder.actions == [FIRE, RIGHT]
    assert frame_number(env) == 2


def test_fire_reset_launches_the_breakout_ball() -> None:
    def frames_until_life_lost(env: gymnasium.Env) -> int | None:
        for step in range(1, 1500):
            env.step(0)
            if lives(env) < 5:
                return step
        return None

    # without FIRE the ball never comes, so no life is lost; after FireReset the ball falls past the idle paddle
    idle = gymnasium.make(BREAKOUT)
    idle.reset(seed=0)
    assert frames_until_life_lost(idle) is None
    fired = FireResetEnv(gymnasium.make(BREAKOUT))
    fired.reset(seed=0)
    assert frames_until_life_lost(fired) is not None


def test_fire_reset_rejects_games_without_fire() -> None:
    with pytest.raises(ValueError, match="FIRE"):
        FireResetEnv(gymnasium.make("FreewayNoFrameskip-v4"))


# ---- MaxAndSkipEnv ---------------------------------------------------------------------------------


def test_max_and_skip_returns_max_of_last_two_frames_and_sums_rewards() -> None:
    recorder = Recorder(gymnasium.make(PONG))
    env = MaxAndSkipEnv(recorder, skip=4)
    env.reset(seed=0)
    pooled_differs_from_last = 0
    for _ in range(100):
        before = frame_number(env)
        obs, reward, terminated, truncated, _ = env.step(RIGHT)
        assert frame_number(env) - before == 4
        assert recorder.actions[-4:] == [RIGHT] * 4
        np.testing.assert_array_equal(obs, np.maximum(recorder.frames[-2], recorder.frames[-1]))
        assert reward == sum(recorder.rewards[-4:])
        pooled_differs_from_last += int(not np.array_equal(obs, recorder.frames[-1]))
    assert pooled_differs_from_last > 0  # the pooling really mattered in this game
    assert any(recorder.rewards)  # a point was scored during the run, so the reward sum was exercised


def test_max_and_skip_sums_the_rewards_of_all_skipped_frames() -> None:
    env = MaxAndSkipEnv(ScriptedReward(gymnasium.make(BREAKOUT), [1.0, 2.0, 3.0, 4.0, 0.0, 0.5, 0.0, 0.0]), skip=4)
    env.reset(seed=0)
    assert env.step(0)[1] == 10.0
    assert env.step(0)[1] == 0.5


def test_max_and_skip_observations_are_not_overwritten_later() -> None:
    env = MaxAndSkipEnv(gymnasium.make(PONG))
    env.reset(seed=0)
    first, *_ = env.step(0)
    kept = first.copy()
    for _ in range(10):
        env.step(0)
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("env_id", ["ALE/Breakout-v5", "Breakout-v4"])
def test_max_and_skip_rejects_envs_that_already_skip(env_id: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        MaxAndSkipEnv(gymnasium.make(env_id))
    message = str(excinfo.value)
    assert "BreakoutNoFrameskip-v4" in message and "frameskip=1" in message and "make_atari" in message


def test_max_and_skip_accepts_v5_with_frameskip_1() -> None:
    env = MaxAndSkipEnv(gymnasium.make("ALE/Breakout-v5", frameskip=1))
    env.reset(seed=0)
    env.step(0)
    assert frame_number(env) == 4


# ---- EpisodicLifeEnv -------------------------------------------------------------------------------


def run_until_terminated(env: gymnasium.Env, limit: int = 1000) -> tuple[bool, bool, dict[str, Any]]:
    for _ in range(limit):
        _, _, terminated, truncated, info = env.step(FIRE)  # FIRE relaunches the ball; the paddle stays put
        if terminated or truncated:
            return terminated, truncated, info
    raise AssertionError(f"no episode end within {limit} steps")


def test_episodic_life_ends_agent_episode_on_life_loss_but_not_the_game() -> None:
    env = EpisodicLifeEnv(make_atari(BREAKOUT))
    env.reset(seed=0)
    assert lives(env) == 5

    for lives_left in (4, 3, 2, 1):
        terminated, truncated, info = run_until_terminated(env)
        assert terminated and not truncated
        assert lives(env) == lives_left and info["real_done"] is False and env.was_real_done is False
        frame_at_loss = frame_number(env)
        env.reset()
        assert lives(env) == lives_left  # the game went on
        assert frame_number(env) == frame_at_loss + 4  # one NOOP agent step, not a fresh game

    terminated, truncated, info = run_until_terminated(env)
    assert terminated and lives(env) == 0
    assert info["real_done"] is True and env.was_real_done is True
    env.reset()
    assert lives(env) == 5 and frame_number(env) <= 30  # real reset: fresh game after the noops


def test_episodic_life_reset_after_a_lost_life_goes_on_seed_or_not() -> None:
    """As baselines: only a game over restarts the game; a seeded reset after a lost life (exact-resume runs seed
    every reset) takes the NOOP step and goes on with the same game."""
    env = EpisodicLifeEnv(make_atari(BREAKOUT))
    env.reset(seed=0)
    run_until_terminated(env)
    assert lives(env) == 4
    frame = frame_number(env)
    env.reset(seed=1)
    assert lives(env) == 4 and frame_number(env) > frame


# ---- ClipRewardEnv ---------------------------------------------------------------------------------


def test_clip_reward_keeps_only_the_sign() -> None:
    raw_rewards = [7.0, 4.0, -3.0, 0.0, 0.25, -0.5]
    env = ClipRewardEnv(ScriptedReward(gymnasium.make(BREAKOUT), raw_rewards))
    env.reset(seed=0)
    clipped = [env.step(0)[1] for _ in raw_rewards]
    assert clipped == [1.0, 1.0, -1.0, 0.0, 1.0, -1.0]
    assert all(type(reward) is float for reward in clipped)


# ---- LazyFrames and FrameStack ---------------------------------------------------------------------


def test_frame_stack_repeats_first_frame_and_shares_frames_between_steps() -> None:
    env = FrameStack(WarpFrame(make_atari(PONG)), 4)
    assert env.observation_space == gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    first, _ = env.reset(seed=0)
    assert len(first.frames) == 4 and all(frame is first.frames[0] for frame in first.frames)

    history = [first]
    for _ in range(5):
        history.append(env.step(RIGHT)[0])
    for older, newer in zip(history, history[1:]):
        assert all(a is b for a, b in zip(older.frames[1:], newer.frames[:3]))  # the same objects, not copies
        assert newer.frames[-1] is not older.frames[-1]  # each step brings a new frame
    latest = history[-1]
    np.testing.assert_array_equal(np.asarray(latest), np.concatenate(latest.frames, axis=-1))
    np.testing.assert_array_equal(np.asarray(latest)[..., 3], history[-1].frames[3][..., 0])
    np.testing.assert_array_equal(np.asarray(latest)[..., 0], history[-4].frames[3][..., 0])


def test_frame_stack_frames_cannot_be_changed_in_place() -> None:
    env = FrameStack(WarpFrame(make_atari(PONG)), 4)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="read-only"):
        obs.frames[0][0, 0, 0] = 1


def test_lazy_frames_behaves_like_the_stacked_array() -> None:
    frames = [np.full((3, 2, 1), value, dtype=np.uint8) for value in (10, 20, 30)]
    lazy = LazyFrames(frames)
    stacked = np.concatenate(frames, axis=-1)
    assert all(kept is given for kept, given in zip(lazy.frames, frames))  # held, not copied
    np.testing.assert_array_equal(np.asarray(lazy), stacked)
    assert lazy.shape == (3, 2, 3) and lazy.dtype == np.uint8
    assert len(lazy) == 3 and lazy.count() == 3
    np.testing.assert_array_equal(lazy[1], stacked[1])
    np.testing.assert_array_equal(lazy.frame(2), np.full((3, 2), 30))
    as_float = np.asarray(lazy, dtype=np.float32)
    assert as_float.dtype == np.float32 and as_float[0, 0, 2] == 30.0
    assert np.array(lazy, copy=True).shape == (3, 2, 3)
    with pytest.raises(ValueError, match="copy"):
        np.array(lazy, copy=False)


def test_lazy_frames_with_color_frames_stack_channels() -> None:
    frames = [np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)]
    lazy = LazyFrames(frames)
    assert lazy.shape == (2, 2, 6) == np.asarray(lazy).shape and lazy.count() == 6
    np.testing.assert_array_equal(np.asarray(lazy)[..., :3], 0)  # the older frame's channels come first
    np.testing.assert_array_equal(np.asarray(lazy)[..., 3:], 1)


# ---- make_atari: ids, sticky actions, frame caps, seeding ------------------------------------------


def test_v5_id_runs_at_one_frame_per_step_inside_max_and_skip() -> None:
    env = make_atari("ALE/Breakout-v5")
    env.reset(seed=0)
    before = frame_number(env)
    env.step(0)
    assert frame_number(env) - before == 4  # 4 from MaxAndSkip, not 4 x 4
    assert env.observation_space.shape == (210, 160, 3)


@pytest.mark.parametrize(
    ("env_id", "sticky", "expected"),
    [(BREAKOUT, None, 0.0), ("ALE/Breakout-v5", None, 0.25), ("ALE/Breakout-v5", 0.0, 0.0), (BREAKOUT, 0.25, 0.25)],
)
def test_sticky_actions_default_to_the_id_and_can_be_set(env_id: str, sticky: float | None, expected: float) -> None:
    env = make_atari(env_id, repeat_action_probability=sticky)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(expected)


def test_make_atari_rejects_ids_that_already_skip_frames() -> None:
    with pytest.raises(ValueError, match="BreakoutNoFrameskip-v4"):
        make_atari("Breakout-v4")


def test_unknown_id_names_it_and_suggests_close_matches() -> None:
    with pytest.raises(ValueError) as excinfo:
        make_atari("BreakotNoFrameskip-v4")
    message = str(excinfo.value)
    assert "'BreakotNoFrameskip-v4'" in message and "'BreakoutNoFrameskip-v4'" in message
    assert "NoFrameskip-v4" in message and "ALE/<Game>-v5" in message

    with pytest.raises(ValueError) as excinfo:
        make_atari("pong")
    assert "'ALE/Pong-v5'" in str(excinfo.value) and "'PongNoFrameskip-v4'" in str(excinfo.value)


def test_non_atari_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="'CartPole-v1'.*not an Atari"):
        make_atari("CartPole-v1")


@pytest.mark.parametrize("env_id", [BREAKOUT, "ALE/Breakout-v5"])
def test_episode_cap_is_108000_frames(env_id: str) -> None:
    assert make_atari(env_id).unwrapped.ale.getInt("max_num_frames_per_episode") == 108_000


def test_max_episode_steps_truncates_after_that_many_agent_steps() -> None:
    env = make_atari(BREAKOUT, max_episode_steps=50)
    env.reset(seed=0)
    frames_after_reset = frame_number(env)  # the noops
    steps = 0
    for _ in range(100):
        _, _, terminated, truncated, _ = env.step(0)  # no FIRE: the ball never comes, so no life is lost
        steps += 1
        if terminated or truncated:
            break
    assert truncated is True and terminated is False
    assert steps == 50  # agent steps, as baselines counts them
    assert frame_number(env) == frames_after_reset + 50 * 4


def test_ale_frame_cap_reports_truncation_not_termination() -> None:
    env = make_atari(BREAKOUT, max_num_frames_per_episode=150)  # the 108k cap's mechanism, made cheap
    env.reset(seed=0)
    for _ in range(100):
        _, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            break
    assert truncated is True and terminated is False
    assert frame_number(env) == 150


def test_noop_reset_takes_baselines_override_num_noops() -> None:
    env = NoopResetEnv(gymnasium.make(BREAKOUT), noop_max=30)
    env.override_num_noops = 7  # what baselines' evaluation scripts set for a fixed start
    env.reset(seed=0)
    assert frame_number(env) == 7


def test_an_exact_resume_env_plays_whole_games_of_five_lives() -> None:
    """`--deterministic` runs seed every reset (ResumableEnv); a lost life must still go on with the same game, so
    each recorded game (the Monitor's `episode`) spans Breakout's 5 lives, as without exact resume."""
    from baselines_tf2.common.cmd_util import make_vec_env

    venv = make_vec_env(BREAKOUT, "atari", 1, seed=0, resumable=True, force_dummy=True)
    rng = np.random.default_rng(0)
    venv.reset()
    lives_lost, games = 0, []
    try:
        for _ in range(3000):
            _obs, _rewards, dones, infos = venv.step(rng.integers(4, size=1))
            lives_lost += int(dones[0])
            if "episode" in infos[0]:
                games.append(lives_lost)
                lives_lost = 0
                if len(games) == 3:
                    break
    finally:
        venv.close()
    assert games == [5, 5, 5]


def test_seeded_reset_is_reproducible() -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = wrap_deepmind(make_atari(BREAKOUT), frame_stack=True)
        obs, _ = env.reset(seed=seed)
        observations = [np.asarray(obs)]
        for action in [FIRE, RIGHT, RIGHT, 3, 3, 0, RIGHT, 3] * 3:
            obs, *_ = env.step(action)
            observations.append(np.asarray(obs))
        return observations

    first, second = rollout(seed=7), rollout(seed=7)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)

    env = make_atari(BREAKOUT)
    noop_frames = set()
    for seed in range(6):
        env.reset(seed=seed)
        noop_frames.add(frame_number(env))
    assert len(noop_frames) > 1  # the seed does change the start


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="noop_max"):
        NoopResetEnv(gymnasium.make(BREAKOUT), noop_max=0)
    with pytest.raises(ValueError, match="skip"):
        MaxAndSkipEnv(gymnasium.make(BREAKOUT), skip=0)
    with pytest.raises(ValueError, match="k must"):
        FrameStack(WarpFrame(make_atari(BREAKOUT)), 0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        make_atari(BREAKOUT, max_episode_steps=0)
    with pytest.raises(ValueError, match="repeat_action_probability"):
        make_atari(BREAKOUT, repeat_action_probability=1.5)
