"""baselines' path `baselines.common.input`: how observations enter a network.

`encode_observation` is the encoding the policies use (`baselines_tf2.nn.policies`), in float32 as baselines'.
The TF1 placeholder builders have no TF2 meaning and raise NotImplementedError naming what to do instead.
"""

from __future__ import annotations

from typing import Any, NoReturn

import gymnasium
import keras

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
    """A batch of raw observations as float32, as baselines' `tf.to_float`: Discrete and MultiDiscrete one-hot, Box
    values cast (uint8 frames stay 0..255; baselines' network helpers such as nature_cnn divide by 255)."""
    encoded = _encode(ob_space, placeholder)
    return keras.ops.cast(encoded, "float32") if isinstance(ob_space, gymnasium.spaces.Box) else encoded
