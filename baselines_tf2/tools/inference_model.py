"""A loaded policy as a plain Keras model (raw observations -> greedy actions and values), for export.

The model is functional and built only from Keras' own layers and `keras.ops`, reusing the policy's layers (so its
weights), which is why it saves, exports and reloads with plain Keras/TensorFlow, without this library.

Outputs, both with the batch as first dimension, as each policy's `greedy_outputs` defines them:
    actions  the most likely action: for actor-critics the argmax of the logits (Discrete: int64 [B];
             MultiDiscrete: int64 [B, k]), logits > 0 (MultiBinary: int8 [B, n]), the Gaussian's mean (Box:
             float32 [B, d]); for Q-learners the argmax of the Q-values (int64 [B])
    values   the policy's `value_kind`: the state value V(s), float32 [B], or the Q-values, float32 [B, n_actions]
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import keras
import numpy as np

from baselines_tf2.nn.policies import encode_observation, raw_observation_spec
from baselines_tf2.tools.export_formats import INPUT_NAME


class UnsupportedPolicyError(ValueError):
    """A policy that cannot be exported as a feed-forward function of the observations (e.g. a recurrent one)."""


def inference_model(policy: Any, name: str = "exported") -> keras.Model:
    """Functional model: raw observation batch -> {'actions': greedy actions, 'values': V(s) or Q(s, .)}; the
    policy (any algorithm's, see `training.agent.load_policy`) builds its outputs with `greedy_outputs`."""
    if getattr(policy, "recurrent", False):
        raise UnsupportedPolicyError(
            "recurrent policies (lstm, cnn_lstm, cnn_lnlstm) cannot be exported: their actions depend on a state "
            "and episode-start masks the exported function would have to take and return; export a feed-forward one"
        )
    spec = raw_observation_spec(policy.observation_space)
    observations = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name, name=INPUT_NAME)
    actions, values = policy.greedy_outputs(encode_observation(policy.observation_space, observations))
    return keras.Model(observations, {"actions": actions, "values": values}, name=f"{name}_policy")


def sample_observations(space: gymnasium.Space, count: int, seed: int) -> np.ndarray:
    """`count` valid observations drawn from `space` (seeded), in the dtype the exported model takes."""
    space = copy.deepcopy(space)  # seeding the policy's own space would change its later samples
    space.seed(seed)
    dtype = raw_observation_spec(space).dtype.as_numpy_dtype
    return np.stack([np.asarray(space.sample()) for _ in range(count)]).astype(dtype)
