"""baselines' path `baselines.common.input`: how observations enter a network.

`encode_observation` is the real encoding the policies use (`baselines_tf2.nn.policies`). The TF1 placeholder
builders have no TF2 meaning and raise NotImplementedError naming what to do instead.
"""

from __future__ import annotations

from typing import Any, NoReturn

import gymnasium

from baselines_tf2.nn.policies import encode_observation as _encode

NO_PLACEHOLDERS = ("TensorFlow 2 has no placeholders: pass arrays to the compiled functions, or build "
                   "keras.Input(shape=..., dtype=...) from baselines_tf2.nn.policies.raw_observation_spec(ob_space)")


def observation_placeholder(ob_space: gymnasium.Space, batch_size: int | None = None, name: str = "Ob") -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no placeholders)."""
    raise NotImplementedError(f"baselines' input.observation_placeholder is TensorFlow 1 only; {NO_PLACEHOLDERS}")


def observation_input(ob_space: gymnasium.Space, batch_size: int | None = None, name: str = "Ob") -> NoReturn:
    """TF1 only: raises NotImplementedError (TensorFlow 2 has no placeholders)."""
    raise NotImplementedError(f"baselines' input.observation_input is TensorFlow 1 only; {NO_PLACEHOLDERS}")


def encode_observation(ob_space: gymnasium.Space, placeholder: Any) -> Any:
    """A batch of raw observations as the network takes it: Discrete and MultiDiscrete one-hot, Box unchanged."""
    return _encode(ob_space, placeholder)
