"""Buffers sized beyond the machine's memory are refused before anything is allocated, naming the option that sizes
them: never a MemoryError traceback, nor a lazily mapped buffer that gets the process killed as it fills."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.segment_tree import SumSegmentTree
from baselines_tf2.common.validation import ArgumentError, physical_memory_bytes
from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer
from baselines_tf2.her.replay_buffer import HerReplayBuffer
from baselines_tf2.off_policy.replay import Memory

BEYOND = "more than this machine's"


def test_the_machines_memory_is_known_here() -> None:
    total = physical_memory_bytes()
    assert total is not None and total > 2**30


def test_deepq_buffers_beyond_memory_are_refused_with_the_option_named() -> None:
    with pytest.raises(ArgumentError, match=rf"buffer of 1,000,000,000,000 transitions \(buffer_size\).*{BEYOND}"):
        ReplayBuffer(10**12)
    with pytest.raises(ArgumentError, match=rf"prioritized replay buffer of 100,000,000,000 .*{BEYOND}"):
        PrioritizedReplayBuffer(10**11, alpha=0.6)
    with pytest.raises(ArgumentError, match=BEYOND):
        SumSegmentTree(2**40)
    # the slots' scalars fit; Atari frames for 500M transitions do not: refused at the first add, which stores nothing
    buffer = ReplayBuffer(5 * 10**8)
    frame = np.zeros((84, 84, 4), np.uint8)
    with pytest.raises(ArgumentError, match=rf"replay buffer of 500,000,000 transitions \(buffer_size\).*{BEYOND}"):
        buffer.add(frame, 0, 0.0, frame, False)
    assert len(buffer) == 0


def test_off_policy_and_her_memories_beyond_memory_are_refused() -> None:
    with pytest.raises(ArgumentError, match=rf"replay memory of 1,000,000,000,000 transitions.*{BEYOND}"):
        Memory(10**12, action_shape=(6,), observation_shape=(17,))
    goal_space = gymnasium.spaces.Dict({
        "observation": gymnasium.spaces.Box(-1, 1, (10,), np.float32),
        "achieved_goal": gymnasium.spaces.Box(-1, 1, (3,), np.float32),
        "desired_goal": gymnasium.spaces.Box(-1, 1, (3,), np.float32),
    })
    with pytest.raises(ArgumentError, match=rf"replay buffer of 1,000,000,000,000 transitions.*{BEYOND}"):
        HerReplayBuffer(10**12, (4,), (13,), observation_space=goal_space, num_envs=1,
                        compute_reward=lambda achieved, desired, info: np.zeros(len(achieved)))
