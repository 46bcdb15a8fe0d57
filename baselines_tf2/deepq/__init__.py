"""DQN (Mnih et al. 2015) as in baselines: `from baselines_tf2 import deepq; deepq.learn(...)`.

Importing this package stays light (the replay buffers need no TensorFlow); `learn` and the rest of the
TensorFlow side load on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"learn": "baselines_tf2.deepq.deepq", "ActWrapper": "baselines_tf2.deepq.act"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'baselines_tf2.deepq' has no attribute {name!r}")
