"""DQN (Mnih et al. 2015) as in baselines: `from baselines_tf2 import deepq; deepq.learn(...)`.

Importing this package stays light (the replay buffers need no TensorFlow); `learn`, `load_act`, `models` and the
rest of the TensorFlow side load on first use.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from baselines_tf2.deepq.replay_buffer import PrioritizedReplayBuffer, ReplayBuffer

__all__ = ["ActWrapper", "PrioritizedReplayBuffer", "ReplayBuffer", "learn", "load_act", "models", "wrap_atari_dqn"]

_LAZY = {"learn": "baselines_tf2.deepq.deepq", "ActWrapper": "baselines_tf2.deepq.act",
         "load_act": "baselines_tf2.deepq.act"}


def wrap_atari_dqn(env: gymnasium.Env) -> gymnasium.Env:
    """baselines' Atari wrapping for DQN: `wrap_deepmind(env, frame_stack=True, scale=False)`."""
    from baselines_tf2.common.atari_wrappers import wrap_deepmind

    return wrap_deepmind(env, frame_stack=True, scale=False)


def __getattr__(name: str) -> Any:
    import importlib

    if name == "models":
        return importlib.import_module("baselines_tf2.deepq.models")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'baselines_tf2.deepq' has no attribute {name!r}")
