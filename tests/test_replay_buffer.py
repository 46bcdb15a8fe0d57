"""Replay buffers: frame-deduplicated storage returns exactly what a naive buffer would (real Breakout stacks,
episode ends, wrap-around), whole-observation fallback, uniform and prioritized sampling, importance weights."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.atari_wrappers import LazyFrames, make_atari, wrap_deepmind
from baselines_tf2.common.vec_env import DummyVecEnv, VecFrameStack
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer

BREAKOUT = "BreakoutNoFrameskip-v4"


@dataclass
class Transition:
    obs_t: Any
    action: int
    reward: float
    obs_tp1: Any
    done: bool


def naive_copy(transition: Transition) -> tuple[np.ndarray, np.ndarray]:
    """What baselines' list-based buffer would hand back for this transition's observations."""
    return np.array(transition.obs_t), np.array(transition.obs_tp1)


@pytest.fixture(scope="module")
def breakout_transitions() -> list[Transition]:
    """1,200 real steps of wrap_deepmind(frame_stack=True) Breakout with random actions, resetting on every done.

    Life-loss episodes end every ~30 steps, so this holds dozens of episode starts (obs_t = the first frame x4).
    """
    env = wrap_deepmind(make_atari(BREAKOUT), frame_stack=True)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    transitions = []
    for _ in range(1200):
        action = int(rng.integers(env.action_space.n))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transitions.append(Transition(obs, action, float(reward), next_obs, terminated or truncated))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return transitions


def check_all_valid_transitions(buffer: ReplayBuffer, transitions: list[Transition], added: int) -> int:
    """Compare every sampleable slot with the transition added there; return how many were compared.

    The buffer's `action` field holds the transition's add count, so each slot names the transition it holds.
    """
    indices = buffer.valid_indices()
    obs_t, counts, rewards, obs_tp1, dones = buffer._encode_sample(indices)
    np.testing.assert_array_equal(counts, np.arange(added - len(buffer), added))
    for row, count in enumerate(counts):
        expected_t, expected_tp1 = naive_copy(transitions[count])
        np.testing.assert_array_equal(obs_t[row], expected_t, err_msg=f"obs_t of add {count}")
        np.testing.assert_array_equal(obs_tp1[row], expected_tp1, err_msg=f"obs_tp1 of add {count}")
        assert rewards[row] == transitions[count].reward
        assert dones[row] == float(transitions[count].done)
    return len(indices)


def fill_and_check(
    buffer: ReplayBuffer,
    transitions: list[Transition],
    convert: Callable[[Any], Any] = lambda obs: obs,
    every: int = 97,
) -> None:
    """Add all transitions (action = add count), checking every sampleable slot along the way and at the end."""
    for count, transition in enumerate(transitions):
        buffer.add(convert(transition.obs_t), count, transition.reward, convert(transition.obs_tp1), transition.done)
        if count % every == every - 1:
            check_all_valid_transitions(buffer, transitions, count + 1)
    check_all_valid_transitions(buffer, transitions, len(transitions))


def naive_nbytes(transitions: list[Transition], size: int) -> int:
    obs_nbytes = np.asarray(transitions[0].obs_t).nbytes
    return 2 * size * obs_nbytes


@pytest.mark.parametrize("convert", [lambda obs: obs, np.asarray], ids=["lazyframes", "stacked_arrays"])
def test_frame_stacks_come_back_exactly_across_episodes_and_wraparound(
    breakout_transitions: list[Transition], convert: Callable[[Any], Any]
) -> None:
    size = 250  # 1,200 adds wrap the ring almost five times
    starts = sum(transition.done for transition in breakout_transitions)
    assert starts >= 20, "the recording should cross many episode boundaries"
    buffer = ReplayBuffer(size, seed=0)
    fill_and_check(buffer, breakout_transitions, convert)
    assert len(buffer) >= 0.95 * size
    assert buffer.nbytes < 0.3 * naive_nbytes(breakout_transitions, size)  # one frame per step, not 8
    # The compared window holds episode starts (obs_t is the reset frame four times) and episode ends.
    window = breakout_transitions[-len(buffer) :]
    assert sum(np.ptp(np.asarray(t.obs_t), axis=-1).max() == 0 for t in window) >= 3
    assert sum(t.done for t in window) >= 3


def test_vec_frame_stack_observations_come_back_exactly() -> None:
    # The learner's feed: VecFrameStack arrays (zero-padded at episode starts), the stacked terminal
    # observation from info when an episode ends.
    venv = VecFrameStack(DummyVecEnv([lambda: wrap_deepmind(make_atari(BREAKOUT))]), 4)
    venv.seed(1)
    obs = venv.reset()
    rng = np.random.default_rng(1)
    transitions = []
    for _ in range(600):
        new_obs, rewards, dones, infos = venv.step(rng.integers(4, size=1))
        next_obs = infos[0][TERMINAL_OBSERVATION] if dones[0] else new_obs[0]
        transitions.append(Transition(obs[0], 0, float(rewards[0]), next_obs, bool(dones[0])))
        obs = new_obs
    venv.close()
    assert sum(t.done for t in transitions) >= 5
    buffer = ReplayBuffer(150, seed=0)
    fill_and_check(buffer, transitions)
    assert len(buffer) >= 0.9 * 150
    assert buffer.nbytes < 0.3 * naive_nbytes(transitions, 150)


def test_uniform_sample_returns_stored_transitions(breakout_transitions: list[Transition]) -> None:
    buffer = ReplayBuffer(100, seed=3)
    transitions = breakout_transitions[:300]
    for count, transition in enumerate(transitions):
        buffer.add(transition.obs_t, count, transition.reward, transition.obs_tp1, transition.done)
    obs_t, counts, rewards, obs_tp1, dones = buffer.sample(32)
    assert obs_t.shape == obs_tp1.shape == (32, 84, 84, 4) and obs_t.dtype == np.uint8
    assert rewards.dtype == dones.dtype == np.float32 and counts.shape == (32,)
    assert np.all(counts >= 300 - len(buffer))
    for row, count in enumerate(counts):
        expected_t, expected_tp1 = naive_copy(transitions[count])
        np.testing.assert_array_equal(obs_t[row], expected_t)
        np.testing.assert_array_equal(obs_tp1[row], expected_tp1)


def shifted_stacks(rng: np.random.Generator, steps: int, frames_per_stack: int = 4) -> list[Transition]:
    """Synthetic uint8 stacks that shift by one frame per step; every 7th obs_t starts fresh with distinct frames."""
    transitions = []
    stack = rng.integers(0, 256, (6, 5, frames_per_stack), dtype=np.uint8)
    for step in range(steps):
        if step % 7 == 0:
            stack = rng.integers(0, 256, (6, 5, frames_per_stack), dtype=np.uint8)
        new_frame = rng.integers(0, 256, (6, 5, 1), dtype=np.uint8)
        next_stack = np.concatenate([stack[..., 1:], new_frame], axis=-1)
        transitions.append(Transition(stack, step, float(step % 3), next_stack, step % 7 == 6))
        stack = next_stack
    return transitions


def test_arrays_that_stop_shifting_are_converted_to_whole_observations() -> None:
    rng = np.random.default_rng(1)
    transitions = shifted_stacks(rng, 60)
    for count in range(60, 200):  # from here on obs_tp1 is unrelated to obs_t
        transitions.append(
            Transition(
                rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), count, 0.0,
                rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), False,
            )
        )
    buffer = ReplayBuffer(50, seed=0)
    fill_and_check(buffer, transitions, every=13)
    assert len(buffer) == 50


def test_arrays_that_never_shift_are_stored_whole() -> None:
    rng = np.random.default_rng(2)
    transitions = [
        Transition(
            rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), count, 1.0,
            rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), count % 5 == 4,
        )
        for count in range(120)
    ]
    buffer = ReplayBuffer(40, seed=0)
    fill_and_check(buffer, transitions, every=11)
    assert len(buffer) == 40


def test_short_episodes_evict_the_oldest_stacks_but_never_serve_broken_ones() -> None:
    # Every obs_t starts fresh with 4 distinct frames, so each add needs 5 frames: the frame ring runs out first.
    rng = np.random.default_rng(3)
    transitions = []
    for count in range(400):
        obs_t = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
        obs_tp1 = np.concatenate([obs_t[..., 1:], rng.integers(0, 256, (6, 5, 1), dtype=np.uint8)], axis=-1)
        transitions.append(Transition(obs_t, count, 0.0, obs_tp1, True))
    buffer = PrioritizedReplayBuffer(64, alpha=0.6, seed=0)
    fill_and_check(buffer, transitions, every=17)
    assert 0 < len(buffer) < 64
    sampleable = set(buffer.valid_indices().tolist())
    evicted = next(slot for slot in range(64) if slot not in sampleable)
    with pytest.raises(IndexError, match="sampleable"):
        buffer._encode_sample(np.array([evicted]))
    for _ in range(50):  # prioritized sampling never reaches an evicted slot
        obs_t, counts, *_, idxes = buffer.sample(32, beta=0.4)
        assert set(idxes.tolist()) <= sampleable
        for row, count in enumerate(counts):
            np.testing.assert_array_equal(obs_t[row], transitions[count].obs_t)


def test_cartpole_vectors_are_stored_whole() -> None:
    env = gymnasium.make("CartPole-v1")
    rng = np.random.default_rng(4)
    obs, _ = env.reset(seed=4)
    transitions = []
    for count in range(150):
        next_obs, reward, terminated, truncated, _ = env.step(int(rng.integers(2)))
        transitions.append(Transition(obs, count, float(reward), next_obs, terminated))
        obs = next_obs if not (terminated or truncated) else env.reset()[0]
    buffer = ReplayBuffer(64, seed=0)
    fill_and_check(buffer, transitions, every=10)
    obs_t, *_ = buffer.sample(8)
    assert obs_t.shape == (8, 4) and obs_t.dtype == np.float32


def test_uniform_sampling_covers_every_slot_evenly() -> None:
    buffer = ReplayBuffer(10, seed=5)
    for count in range(13):  # wrapped: slots hold adds 3..12, the newest in slot 2
        buffer.add(np.float32(count), count, 0.0, np.float32(count + 1), False)
    counts = np.concatenate([buffer.sample(100)[1] for _ in range(200)])
    frequencies = np.bincount(counts, minlength=13)[3:] / counts.size
    np.testing.assert_allclose(frequencies, 0.1, atol=0.01)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="size"):
        ReplayBuffer(0)
    buffer = ReplayBuffer(4)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)
    buffer.add(np.zeros(3, np.float32), 1, 0.0, np.zeros(3, np.float32), False)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        buffer.add(np.zeros(4, np.float32), 1, 0.0, np.zeros(4, np.float32), False)
    with pytest.raises(ValueError, match="action"):
        buffer.add(np.zeros(3, np.float32), [1, 2], 0.0, np.zeros(3, np.float32), False)
    with pytest.raises(IndexError):
        buffer._encode_sample(np.array([3]))  # never filled
    with pytest.raises(ValueError, match="alpha"):
        PrioritizedReplayBuffer(4, alpha=-0.5)


def scalar_buffer(size: int, filled: int, alpha: float, seed: int = 0) -> PrioritizedReplayBuffer:
    """A prioritized buffer of scalar observations where action = add count."""
    buffer = PrioritizedReplayBuffer(size, alpha=alpha, seed=seed)
    for count in range(filled):
        buffer.add(np.float32(count), count, 0.0, np.float32(count), False)
    return buffer


def chi_square(observed: np.ndarray, expected_probabilities: np.ndarray) -> float:
    expected = observed.sum() * expected_probabilities
    return float(((observed - expected) ** 2 / expected).sum())


def test_prioritized_frequencies_follow_priority_to_the_alpha() -> None:
    alpha = 0.7
    buffer = scalar_buffer(size=8, filled=8, alpha=alpha)
    priorities = np.array([0.5, 1.0, 2.0, 4.0, 0.1, 3.0, 1.5, 8.0])
    buffer.update_priorities(np.arange(8), priorities)
    idxes = np.concatenate([buffer.sample(32, beta=0.5)[-1] for _ in range(2000)])
    observed = np.bincount(idxes, minlength=8)
    expected = priorities**alpha / (priorities**alpha).sum()
    # 7 degrees of freedom: P(chi2 > 24.3) = 0.001 for independent draws; stratified draws vary even less.
    assert chi_square(observed, expected) < 24.3
    uniform_like = np.full(8, 1 / 8)
    assert chi_square(observed, uniform_like) > 1000  # and it is not uniform


@pytest.mark.parametrize("filled", [3, 5, 12])
def test_every_stored_slot_is_sampled_including_the_newest(filled: int) -> None:
    buffer = scalar_buffer(size=5, filled=filled, alpha=0.6, seed=filled)
    _, counts, _, _, _, _, idxes = (
        np.concatenate(parts) for parts in zip(*(buffer.sample(10, beta=0.4) for _ in range(300)))
    )
    stored = min(filled, 5)
    assert sorted(set(counts.tolist())) == list(range(filled - stored, filled))
    assert set(idxes.tolist()) == set(buffer.valid_indices().tolist())
    # All priorities are equal (new transitions get the max), so each slot, the newest included, gets 1/stored.
    frequencies = np.bincount(counts - (filled - stored), minlength=stored) / counts.size
    np.testing.assert_allclose(frequencies, 1 / stored, atol=0.02)


def test_importance_weights_match_the_formula() -> None:
    alpha, beta = 0.6, 0.4
    buffer = scalar_buffer(size=6, filled=6, alpha=alpha)
    priorities = np.array([1.0, 2.0, 3.0, 0.25, 5.0, 6.0])
    buffer.update_priorities(np.arange(6), priorities)
    probabilities = priorities**alpha / (priorities**alpha).sum()
    max_weight = (probabilities.min() * 6) ** -beta
    for _ in range(20):
        _, counts, _, _, _, weights, idxes = buffer.sample(16, beta=beta)
        np.testing.assert_array_equal(counts, idxes)  # slot i holds add i: the batch is the transitions at idxes
        np.testing.assert_allclose(weights, (probabilities[idxes] * 6) ** -beta / max_weight, rtol=1e-6)
        assert weights.dtype == np.float32 and weights.max() <= 1.0


def test_new_transitions_get_the_highest_priority_so_far() -> None:
    buffer = scalar_buffer(size=8, filled=4, alpha=1.0)
    buffer.update_priorities(np.arange(4), [1.0, 1.0, 1.0, 9.0])
    buffer.add(np.float32(4), 4, 0.0, np.float32(4), False)  # gets priority 9, like slot 3
    counts = np.concatenate([buffer.sample(20, beta=0.0)[1] for _ in range(500)])
    frequencies = np.bincount(counts, minlength=5) / counts.size
    np.testing.assert_allclose(frequencies, np.array([1, 1, 1, 9, 9]) / 21, atol=0.015)


def test_update_priorities_rejects_bad_priorities_and_indices() -> None:
    buffer = scalar_buffer(size=4, filled=4, alpha=0.5)
    for bad in ([0.0], [-1.0], [np.nan], [np.inf]):
        with pytest.raises(ValueError, match="positive"):
            buffer.update_priorities(np.array([0]), bad)
    with pytest.raises(ValueError, match="one priority per index"):
        buffer.update_priorities(np.array([0, 1]), [1.0])
    with pytest.raises(IndexError):
        buffer.update_priorities(np.array([4]), [1.0])
    with pytest.raises(ValueError, match="beta"):
        buffer.sample(4, beta=-1.0)


def test_prioritized_buffer_serves_real_frame_stacks(breakout_transitions: list[Transition]) -> None:
    buffer = PrioritizedReplayBuffer(200, alpha=0.6, seed=1)
    transitions = breakout_transitions[:500]
    fill_and_check(buffer, transitions, every=101)
    obs_t, counts, _, obs_tp1, _, weights, idxes = buffer.sample(32, beta=0.4)
    buffer.update_priorities(idxes, np.abs(np.random.default_rng(0).normal(size=32)) + 1e-6)
    for row, count in enumerate(counts):
        expected_t, expected_tp1 = naive_copy(transitions[count])
        np.testing.assert_array_equal(obs_t[row], expected_t)
        np.testing.assert_array_equal(obs_tp1[row], expected_tp1)


def test_replay_modules_do_not_import_tensorflow() -> None:
    probe = (
        "import sys\n"
        "import baselines_tf2.deepq, baselines_tf2.deepq.replay_buffer, baselines_tf2.common.segment_tree\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("prioritized", [False, True])
@pytest.mark.parametrize("stacked", [False, True])
def test_state_round_trip_continues_exactly(prioritized: bool, stacked: bool) -> None:
    """A buffer restored from `state()` into a fresh one samples and evolves exactly like the original."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (4, 4, 1), np.uint8) for _ in range(4)]

    def next_obs() -> object:
        frames.append(rng.integers(0, 255, (4, 4, 1), np.uint8))
        frames.pop(0)
        return LazyFrames(list(frames)) if stacked else rng.random(3).astype(np.float32)

    def make(seed: int) -> ReplayBuffer:
        return PrioritizedReplayBuffer(50, alpha=0.6, seed=seed) if prioritized else ReplayBuffer(50, seed=seed)

    original, restored = make(1), make(2)
    obs = next_obs()
    for t in range(80):  # wraps the ring
        following = next_obs()
        original.add(obs, t % 3, float(t), following, t % 17 == 0)
        obs = following
    info, arrays = original.state()
    restored.load_state(json.loads(json.dumps(info)), {name: np.array(array) for name, array in arrays.items()})
    for _ in range(30):
        following = next_obs()
        for buffer in (original, restored):
            buffer.add(obs, 1, 1.0, following, False)
        obs = following
        if prioritized:
            batches = [buffer.sample(8, beta=0.4) for buffer in (original, restored)]
            for buffer, batch in zip((original, restored), batches):
                buffer.update_priorities(batch[-1], np.arange(1.0, 9.0))
        else:
            batches = [buffer.sample(8) for buffer in (original, restored)]
        for left, right in zip(*batches):
            np.testing.assert_array_equal(left, right)


def test_state_of_another_size_is_refused() -> None:
    buffer = ReplayBuffer(10, seed=0)
    buffer.add(np.zeros(2, np.float32), 0, 0.0, np.ones(2, np.float32), False)
    info, arrays = buffer.state()
    with pytest.raises(ValueError, match="size 10.*size 20"):
        ReplayBuffer(20).load_state(info, arrays)
