"""Tiny envs with known optimal returns, for tests, examples and smoke benchmarks (no TensorFlow)."""

from baselines_tf2.common.envs.identity_env import BoxIdentityEnv, DiscreteIdentityEnv
from baselines_tf2.common.envs.memory_env import ImageMemoryEnv

__all__ = ["BoxIdentityEnv", "DiscreteIdentityEnv", "ImageMemoryEnv"]
