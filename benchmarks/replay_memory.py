"""Replay memory per Atari transition and sampling speed, uniform vs prioritized, at DQN's buffer size (1M).

    python benchmarks/replay_memory.py
    python benchmarks/replay_memory.py --fill 1000000    # fill all 1M slots with 84x84 frames (~7.4 GB of RAM)

Memory: bytes per transition are the buffers' allocated arrays (np.zeros, mapped lazily) divided by the capacity,
after one real Breakout transition fixes the layout. Two other layouts are computed, not allocated (observation
arrays plus int64 action, float32 reward and bool done; no Python object overhead): both stacks of every transition
stored whole (obs and next_obs arrays, stable-baselines3 ReplayBuffer's default), and one whole stack per transition
(baselines' deepq: acting forces each LazyFrames into one 84x84x4 array, which the transition it ends and the one it
starts both reference).
A short real Breakout run into a smaller buffer checks how many transitions stay sampleable under life-loss episodes.

Speed: one PrioritizedReplayBuffer of capacity 1M (trees of depth 20) is filled with `--fill` synthetic 84x84
frame stacks shaped like wrap_deepmind's (episodes of 20-60 steps, a reset repeats the first frame). Uniform
sampling is ReplayBuffer.sample on that same storage, so both read the same memory. Batch 32; rounds alternate
between the two and the table shows medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque
from typing import Callable

import numpy as np

from baselines_tf2.common.atari_wrappers import LazyFrames, make_atari, wrap_deepmind
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer

ENV_ID = "BreakoutNoFrameskip-v4"
CAPACITY = 1_000_000
FRAME_SHAPE = (84, 84, 1)
FRAMES_PER_STACK = 4
BATCH_SIZE = 32
MAX_BYTES_PER_TRANSITION = 7_500
MIN_PRIORITIZED_RATIO = 0.85


def breakout_transitions(steps: int, seed: int = 0) -> list[tuple[LazyFrames, int, float, LazyFrames, bool]]:
    """`steps` random-action transitions of wrap_deepmind(frame_stack=True) Breakout, reset on every done."""
    env = wrap_deepmind(make_atari(ENV_ID), frame_stack=True)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    transitions = []
    for _ in range(steps):
        action = int(rng.integers(env.action_space.n))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transitions.append((obs, action, float(reward), next_obs, bool(terminated or truncated)))
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    return transitions


def whole_stack_bytes_per_transition(stacks: int) -> int:
    """`stacks` whole 84x84x4 uint8 stacks per transition, plus int64 action, float32 reward and bool done.

    2: obs and next_obs both stored (stable-baselines3 ReplayBuffer's default); 1: each stack shared by the two
    transitions it joins (baselines' deepq, whose acting forces each LazyFrames into one array)."""
    stack_bytes = int(np.prod(FRAME_SHAPE)) * FRAMES_PER_STACK
    return stacks * stack_bytes + 8 + 4 + 1


def memory_rows(first_transition: tuple) -> list[tuple[str, float]]:
    """(buffer, bytes per transition) from the allocations of 1M-capacity buffers holding one Atari transition."""
    rows = []
    for name, buffer in (
        ("ReplayBuffer (frame dedup)", ReplayBuffer(CAPACITY, seed=0)),
        ("PrioritizedReplayBuffer (+ sum/min trees)", PrioritizedReplayBuffer(CAPACITY, alpha=0.6, seed=0)),
    ):
        buffer.add(*first_transition)
        rows.append((name, buffer.nbytes / CAPACITY))
        del buffer
    rows.append(("two whole stacks (SB3's default, computed)", float(whole_stack_bytes_per_transition(2))))
    rows.append(("one shared stack (baselines' LazyFrames, computed)", float(whole_stack_bytes_per_transition(1))))
    return rows


def synthetic_fill(buffer: ReplayBuffer, count: int, seed: int = 0) -> float:
    """Add `count` wrap_deepmind-shaped transitions of random frames; return adds per second."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(256):
        frame = rng.integers(0, 256, FRAME_SHAPE, dtype=np.uint8)
        frame.setflags(write=False)
        pool.append(frame)
    frames: deque[np.ndarray] = deque(maxlen=FRAMES_PER_STACK)
    steps_left = 0
    obs = None
    start = time.perf_counter()
    for step in range(count):
        if steps_left == 0:
            frames.extend([pool[step % 256]] * FRAMES_PER_STACK)
            obs = LazyFrames(frames)
            steps_left = int(rng.integers(20, 61))
        frames.append(pool[(step * 7 + 1) % 256])
        next_obs = LazyFrames(frames)
        steps_left -= 1
        buffer.add(obs, step % 4, 0.0, next_obs, steps_left == 0)
        obs = next_obs
    return count / (time.perf_counter() - start)


def batches_per_second(sample: Callable[[], object], batches: int) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        sample()
    return batches / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fill", type=int, default=200_000, help="transitions added to the 1M buffer before timing")
    parser.add_argument("--batches", type=int, default=300, help="batches per timing round")
    parser.add_argument("--repeats", type=int, default=7, help="alternating rounds per sampler")
    parser.add_argument("--breakout_steps", type=int, default=3000, help="real Breakout steps for the occupancy check")
    args = parser.parse_args()
    if not 1 <= args.fill <= CAPACITY:
        parser.error(f"--fill must lie in [1, {CAPACITY}], got {args.fill}")

    transitions = breakout_transitions(args.breakout_steps)
    print(f"\nMemory per transition, capacity {CAPACITY:,}, {ENV_ID} wrap_deepmind(frame_stack=True) observations")
    print(f"| {'buffer':50} | {'bytes/transition':>16} | {'GB at 1M':>8} |")
    print(f"|{'-' * 52}|{'-' * 18}|{'-' * 10}|")
    rows = memory_rows(transitions[0])
    for name, per_transition in rows:
        print(f"| {name:50} | {per_transition:16,.0f} | {per_transition * CAPACITY / 1e9:8.2f} |")
    dedup = rows[0][1]
    verdict = "OK" if dedup <= MAX_BYTES_PER_TRANSITION else "OVER BUDGET"
    print(f"frame-dedup buffer: {dedup:,.0f} bytes/transition vs budget {MAX_BYTES_PER_TRANSITION:,} -> {verdict}")

    small = ReplayBuffer(2_000, seed=0)
    for transition in transitions:
        small.add(*transition)
    episodes = sum(transition[-1] for transition in transitions)
    print(
        f"real Breakout, {len(transitions)} random steps ({episodes} life-loss episodes) into capacity 2,000: "
        f"{len(small):,} transitions sampleable"
    )

    buffer = PrioritizedReplayBuffer(CAPACITY, alpha=0.6, seed=0)
    fill_rate = synthetic_fill(buffer, args.fill)
    rng = np.random.default_rng(1)

    def uniform() -> object:
        return ReplayBuffer.sample(buffer, BATCH_SIZE)

    def prioritized() -> object:
        return buffer.sample(BATCH_SIZE, beta=0.4)

    def prioritized_with_update() -> None:
        idxes = buffer.sample(BATCH_SIZE, beta=0.4)[-1]
        buffer.update_priorities(idxes, rng.random(BATCH_SIZE) + 1e-3)

    samplers: dict[str, Callable[[], object]] = {
        "uniform": uniform,
        "prioritized": prioritized,
        "prioritized + update_priorities": prioritized_with_update,
    }
    results: dict[str, list[float]] = {name: [] for name in samplers}
    for sample in samplers.values():
        batches_per_second(sample, 20)  # warm-up
    for _ in range(args.repeats):
        for name, sample in samplers.items():
            results[name].append(batches_per_second(sample, args.batches))

    print(
        f"\nSampling, batch {BATCH_SIZE}, capacity {CAPACITY:,} (priority trees of 2^20 leaves), filled with "
        f"{len(buffer):,} synthetic 84x84x4 transitions ({fill_rate:,.0f} adds/s while filling); "
        f"median of {args.repeats} alternating rounds of {args.batches} batches"
    )
    baseline = statistics.median(results["uniform"])
    print(f"| {'sampler':32} | {'batches/s':>9} | {'samples/s':>9} | {'vs uniform':>10} |")
    print(f"|{'-' * 34}|{'-' * 11}|{'-' * 11}|{'-' * 12}|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name:32} | {median:9,.0f} | {median * BATCH_SIZE:9,.0f} | {median / baseline:9.2f}x |")
    ratio = statistics.median(results["prioritized"]) / baseline
    verdict = "OK" if ratio >= MIN_PRIORITIZED_RATIO else "TOO SLOW"
    print(f"prioritized/uniform sampling throughput: {ratio:.2f} (needs >= {MIN_PRIORITIZED_RATIO}) -> {verdict}")


if __name__ == "__main__":
    main()
