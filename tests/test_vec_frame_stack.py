"""VecFrameStack: newest frame last, stacks cleared per env at episode end, stacked terminal observations."""

from __future__ import annotations

from typing import Any

import ale_py
import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED
from baselines_tf2.common.vec_env.vec_frame_stack import VecFrameStack


class TwoChannelCounterEnv(gymnasium.Env):
    """Frame at step t of an episode holds the two channels (base + t, base + t + 100); ends after `length` steps.

    The frame is (1, 2) channel-last or (2, 1) channel-first; both flatten to [base + t, base + t + 100].
    """

    def __init__(self, length: int, base: int, channels_first: bool = False) -> None:
        self.length, self.base = length, base
        self.frame_shape = (2, 1) if channels_first else (1, 2)
        self.observation_space = gymnasium.spaces.Box(0, 255, self.frame_shape, np.uint8)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.t = 0

    def _frame(self) -> np.ndarray:
        value = self.base + self.t
        return np.array([value, value + 100], dtype=np.uint8).reshape(self.frame_shape)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self._frame(), 0.0, self.t == self.length, False, {}


def counter_venv(channels_first: bool = False) -> DummyVecEnv:
    """Env 0 ends every 2 steps (base 1), env 1 every 4 steps (base 21)."""
    return DummyVecEnv(
        [
            lambda: TwoChannelCounterEnv(length=2, base=1, channels_first=channels_first),
            lambda: TwoChannelCounterEnv(length=4, base=21, channels_first=channels_first),
        ]
    )


# Flattened stacks (nstack=3, oldest frame first) after reset and after steps 1, 2, 3.
EXPECTED_STACKS = [
    [[0, 0, 0, 0, 1, 101], [0, 0, 0, 0, 21, 121]],
    [[0, 0, 1, 101, 2, 102], [0, 0, 21, 121, 22, 122]],
    [[0, 0, 0, 0, 1, 101], [21, 121, 22, 122, 23, 123]],  # env 0 ended at step 2: its stack restarts
    [[0, 0, 1, 101, 2, 102], [22, 122, 23, 123, 24, 124]],
]
# At step 2 env 0 hit its terminal frame (3, 103): the terminal stack is the old stack shifted plus that frame.
EXPECTED_TERMINAL_STACK_ENV0_STEP2 = [1, 101, 2, 102, 3, 103]


@pytest.mark.parametrize(
    "channels_order, stacked_shape", [("last", (1, 6)), ("first", (6, 1))], ids=["channels_last", "channels_first"]
)
def test_exact_stacks_newest_last_cleared_only_in_the_env_whose_episode_ended(
    channels_order: str, stacked_shape: tuple[int, int]
) -> None:
    inner = counter_venv(channels_first=channels_order == "first")
    venv = VecFrameStack(inner, nstack=3, channels_order=channels_order)
    assert venv.observation_space.shape == stacked_shape
    assert venv.observation_space.dtype == np.uint8
    observed = [venv.reset()]
    step_infos = []
    for _ in range(3):
        obs, _rewards, dones, infos = venv.step(np.zeros(2, dtype=np.int64))
        observed.append(obs)
        step_infos.append((dones, infos))
    for obs, expected in zip(observed, EXPECTED_STACKS):
        assert obs.dtype == np.uint8
        assert obs.shape == (2, *stacked_shape)
        np.testing.assert_array_equal(obs.reshape(2, -1), expected)
    dones, infos = step_infos[1]
    np.testing.assert_array_equal(dones, [True, False])
    terminal = infos[0][TERMINAL_OBSERVATION]
    assert terminal.shape == stacked_shape and terminal.dtype == np.uint8
    np.testing.assert_array_equal(terminal.reshape(-1), EXPECTED_TERMINAL_STACK_ENV0_STEP2)
    assert infos[0][TRUNCATED] is False  # other info keys pass through untouched
    assert TERMINAL_OBSERVATION not in infos[1]


def test_returned_batches_are_copies_not_views_of_the_internal_stack() -> None:
    venv = VecFrameStack(counter_venv(), nstack=3)
    first = venv.reset()
    venv.step(np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(first.reshape(2, -1), EXPECTED_STACKS[0])


def test_reset_clears_stacks_from_the_previous_run() -> None:
    venv = VecFrameStack(counter_venv(), nstack=3)
    venv.reset()
    venv.step(np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(venv.reset().reshape(2, -1), EXPECTED_STACKS[0])


def test_observation_space_bounds_follow_the_channel_layout() -> None:
    class BoundedEnv(TwoChannelCounterEnv):
        def __init__(self) -> None:
            super().__init__(length=2, base=1)
            self.observation_space = gymnasium.spaces.Box(
                low=np.array([[0, 10]], np.uint8), high=np.array([[50, 200]], np.uint8), dtype=np.uint8
            )

    space = VecFrameStack(DummyVecEnv([BoundedEnv]), nstack=2).observation_space
    np.testing.assert_array_equal(space.low, [[0, 10, 0, 10]])
    np.testing.assert_array_equal(space.high, [[50, 200, 50, 200]])


@pytest.mark.parametrize(
    "kwargs, named", [({"nstack": 0}, "nstack"), ({"nstack": 2, "channels_order": "middle"}, "channels_order")]
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        VecFrameStack(counter_venv(), **kwargs)


def breakout_84x84(max_episode_steps: int) -> gymnasium.Env:
    """DeepMind-style Breakout (84x84x1 uint8 frames) cut after `max_episode_steps` agent steps."""
    gymnasium.register_envs(ale_py)
    env = wrap_deepmind(make_atari("BreakoutNoFrameskip-v4"), frame_stack=False)
    return gymnasium.wrappers.TimeLimit(env, max_episode_steps=max_episode_steps)


def breakout_pair() -> DummyVecEnv:
    """Two seeded Breakouts cut after 6 and 10 steps, so env 0's episode ends while env 1's runs on."""
    venv = DummyVecEnv([lambda: breakout_84x84(6), lambda: breakout_84x84(10)])
    venv.seed(0)
    return venv


def test_breakout_frames_stack_and_clear_per_env() -> None:
    venv = VecFrameStack(breakout_pair(), nstack=4)
    frames = breakout_pair()  # the same seeded games unstacked: the frames the stacks must be built from
    assert venv.observation_space.shape == (84, 84, 4)
    previous = venv.reset()
    frame = frames.reset()
    assert previous.shape == (2, 84, 84, 4) and previous.dtype == np.uint8
    assert not previous[..., :3].any()
    np.testing.assert_array_equal(previous[..., 3], frame[..., 0])
    rng = np.random.default_rng(0)
    for step in range(1, 7):
        actions = rng.integers(0, 4, size=2)
        obs, _rewards, dones, infos = venv.step(actions)
        frame, _rewards, frame_dones, frame_infos = frames.step(actions)
        np.testing.assert_array_equal(dones, frame_dones)
        np.testing.assert_array_equal(obs[..., 3], frame[..., 0])  # newest frame last
        np.testing.assert_array_equal(obs[1, ..., :3], previous[1, ..., 1:])  # env 1 never ends here
        if step < 6:
            assert not dones.any()
            np.testing.assert_array_equal(obs[0, ..., :3], previous[0, ..., 1:])
        else:
            np.testing.assert_array_equal(dones, [True, False])
            assert not obs[0, ..., :3].any()  # env 0's new episode starts from a cleared stack
            terminal = infos[0][TERMINAL_OBSERVATION]
            assert terminal.shape == (84, 84, 4) and terminal.dtype == np.uint8
            np.testing.assert_array_equal(terminal[..., :3], previous[0, ..., 1:])
            np.testing.assert_array_equal(terminal[..., 3], frame_infos[0][TERMINAL_OBSERVATION][..., 0])
        previous = obs
    venv.close()
    frames.close()
