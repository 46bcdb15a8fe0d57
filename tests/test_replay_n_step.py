"""ReplayBuffer.n_step_batch: n-step returns and discounts on a hand-worked sequence, and on real Breakout stacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer


def vector(value: float) -> np.ndarray:
    return np.array([value, -value], np.float32)


# (obs_t, reward, obs_tp1, done) per slot; actions are the slot numbers.
HAND_SEQUENCE = [
    (0, 1.0, 1, False),  # slot 0  episode A
    (1, 2.0, 2, False),  # slot 1
    (2, 3.0, 3, True),  # slot 2  A terminates
    (10, 4.0, 11, False),  # slot 3  episode B
    (11, 5.0, 12, False),  # slot 4  B is cut by a time limit: stored not done, and the next obs_t is not 12
    (20, 6.0, 21, False),  # slot 5  episode C
    (21, 7.0, 22, False),  # slot 6  the newest transition
]


def hand_buffer(buffer_class: type = ReplayBuffer) -> ReplayBuffer:
    buffer = ReplayBuffer(16, seed=0) if buffer_class is ReplayBuffer else buffer_class(16, alpha=0.6, seed=0)
    for slot, (obs_t, reward, obs_tp1, done) in enumerate(HAND_SEQUENCE):
        buffer.add(vector(obs_t), slot, reward, vector(obs_tp1), done)
    return buffer


@pytest.mark.parametrize("buffer_class", [ReplayBuffer, PrioritizedReplayBuffer])
def test_three_step_returns_match_hand_computation(buffer_class: type) -> None:
    obs_t, actions, returns, obs_tpn, discounts = hand_buffer(buffer_class).n_step_batch(np.arange(7), 3, 0.5)
    # gamma = 0.5, n = 3:
    # slot 0: 1 + .5*2 + .25*3 = 2.75, A terminates at slot 2 -> discount 0, last obs 3
    # slot 1: 2 + .5*3 = 3.5, discount 0, last obs 3;   slot 2: 3, discount 0, last obs 3
    # slot 3: 4 + .5*5 = 6.5; slot 5 does not continue B (obs 20 != 12): bootstrap from 12 with .5^2 = .25
    # slot 4: 5, bootstrap from 12 with .5
    # slot 5: 6 + .5*7 = 9.5; slot 6 is the newest: bootstrap from 22 with .25;  slot 6: 7, from 22 with .5
    np.testing.assert_allclose(returns, [2.75, 3.5, 3.0, 6.5, 5.0, 9.5, 7.0])
    np.testing.assert_allclose(discounts, [0.0, 0.0, 0.0, 0.25, 0.5, 0.25, 0.5])
    np.testing.assert_array_equal(obs_tpn[:, 0], [3, 3, 3, 12, 12, 22, 22])
    np.testing.assert_array_equal(obs_t[:, 0], [0, 1, 2, 10, 11, 20, 21])
    np.testing.assert_array_equal(actions, np.arange(7))
    assert returns.dtype == discounts.dtype == np.float32


def test_returns_stop_at_the_newest_transition_after_wrap_around() -> None:
    buffer = ReplayBuffer(4, seed=0)
    for t in range(6):  # one episode of 6 steps, reward t; counts 2..5 remain in slots 2, 3, 0, 1
        buffer.add(vector(t), t, float(t), vector(t + 1), False)
    _obs, _actions, returns, obs_tpn, discounts = buffer.n_step_batch(np.array([2, 0, 1]), 3, 0.5)
    # slot 2 (count 2): 2 + .5*3 + .25*4 = 4.5, bootstrap from obs 5 with .125
    # slot 0 (count 4): 4 + .5*5 = 6.5; count 6 does not exist (slot 2 holds the older count 2): from 6 with .25
    # slot 1 (count 5): 5, from 6 with .5
    np.testing.assert_allclose(returns, [4.5, 6.5, 5.0])
    np.testing.assert_allclose(discounts, [0.125, 0.25, 0.5])
    np.testing.assert_array_equal(obs_tpn[:, 0], [5, 6, 6])


def test_one_step_batch_equals_sample_with_gamma_discounts() -> None:
    rng = np.random.default_rng(3)
    buffers = ReplayBuffer(50, seed=7), ReplayBuffer(50, seed=7)
    obs = rng.normal(size=3).astype(np.float32)
    for t in range(80):
        next_obs, reward, done = rng.normal(size=3).astype(np.float32), float(rng.normal()), bool(rng.random() < 0.2)
        for buffer in buffers:
            buffer.add(obs, t % 4, reward, next_obs, done)
        obs = rng.normal(size=3).astype(np.float32) if done else next_obs
    sampled = buffers[0].sample(64)
    obs_t, actions, returns, obs_tp1, discounts = buffers[1].n_step_batch(buffers[1].sample_indices(64), 1, 0.99)
    for mine, theirs in zip((obs_t, actions, returns, obs_tp1), sampled[:4]):
        np.testing.assert_array_equal(mine, theirs)
    assert 0 < sampled[4].sum() < 64  # the batch holds both terminal and non-terminal transitions
    np.testing.assert_allclose(discounts, 0.99 * (1.0 - sampled[4]), rtol=1e-6)


@dataclass
class Step:
    obs_t: Any
    reward: float
    obs_tp1: Any
    done: bool


@pytest.fixture(scope="module")
def breakout_steps() -> list[Step]:
    """300 random-action steps of wrap_deepmind(make_atari(Breakout), frame_stack=True), reset after every done."""
    env = wrap_deepmind(make_atari("BreakoutNoFrameskip-v4"), frame_stack=True)
    env.action_space.seed(0)
    obs, _info = env.reset(seed=0)
    steps = []
    for _ in range(300):
        next_obs, reward, terminated, truncated, _info = env.step(env.action_space.sample())
        steps.append(Step(obs, float(reward), next_obs, terminated or truncated))
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    assert sum(step.done for step in steps) >= 2  # lives are lost: the sequence crosses episode ends
    return steps


def expected_n_step(steps: list[Step], i: int, n: int, gamma: float) -> tuple[float, float, np.ndarray]:
    """(return, discount, obs_tpn) walked along the recorded trajectory: stop at a done or an episode start."""
    total, discount, last = steps[i].reward, gamma * (not steps[i].done), i
    for k in range(1, n):
        j = i + k
        if steps[j - 1].done or j >= len(steps) or not np.array_equal(steps[j].obs_t, steps[j - 1].obs_tp1):
            break
        total += gamma**k * steps[j].reward
        discount, last = gamma ** (k + 1) * (not steps[j].done), j
    return total, discount, np.asarray(steps[last].obs_tp1)


@pytest.mark.parametrize("as_array", [False, True], ids=["lazyframes", "stacked_arrays"])
def test_frame_stacked_breakout_n_step_batch_matches_the_recorded_trajectory(
    breakout_steps: list[Step], as_array: bool
) -> None:
    n, gamma = 4, 0.9
    buffer = ReplayBuffer(1000, seed=0)
    for action, step in enumerate(breakout_steps):
        convert = np.asarray if as_array else (lambda obs: obs)
        buffer.add(convert(step.obs_t), action % 4, step.reward, convert(step.obs_tp1), step.done)
    slots = np.arange(len(breakout_steps))
    obs_t, _actions, returns, obs_tpn, discounts = buffer.n_step_batch(slots, n, gamma)
    looked_ahead = 0
    for i in slots:
        total, discount, last_obs = expected_n_step(breakout_steps, i, n, gamma)
        np.testing.assert_array_equal(obs_t[i], np.asarray(breakout_steps[i].obs_t))
        np.testing.assert_array_equal(obs_tpn[i], last_obs)
        assert returns[i] == pytest.approx(total, rel=1e-6) and discounts[i] == pytest.approx(discount, rel=1e-6)
        if i + n < len(breakout_steps) and not any(s.done for s in breakout_steps[i : i + n]):
            # no episode end within n steps: obs_tpn is the observation seen n steps later
            np.testing.assert_array_equal(obs_tpn[i], np.asarray(breakout_steps[i + n].obs_t))
            looked_ahead += 1
    assert looked_ahead > 200
