"""A loaded policy as a plain Keras model (raw observations -> greedy actions and values), for export.

The model is functional and built only from Keras' own layers and `keras.ops`, reusing the policy's layers (so its
weights), which is why it saves, exports and reloads with plain Keras/TensorFlow, without this library.

Inputs: one batch of raw observations named 'observations', or for a goal env's Dict observations (HER) one input
per key ('observation', 'achieved_goal', 'desired_goal'), so the env's observation dict can be passed as it is.

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
from baselines_tf2.off_policy.goals import describe_goal_space_problem, is_goal_space
from baselines_tf2.tools.export_formats import INPUT_NAME


class UnsupportedPolicyError(ValueError):
    """A policy that cannot be exported as a feed-forward function of the observations (e.g. a recurrent one)."""


Observations = np.ndarray | dict[str, np.ndarray]  # a batch: one array, or one per key of a goal env's Dict


def inference_model(policy: Any, name: str = "exported") -> keras.Model:
    """Functional model: raw observation batch -> {'actions': greedy actions, 'values': V(s) or Q(s, .)}; the
    policy (any algorithm's, see `training.agent.load_policy`) builds its outputs with `greedy_outputs`."""
    if getattr(policy, "recurrent", False):
        raise UnsupportedPolicyError(
            "recurrent policies (lstm, cnn_lstm, cnn_lnlstm, impala_cnn_lstm) cannot be exported: their actions depend "
            "on a state and episode-start masks the exported function would have to take and return; export a "
            "feed-forward one"
        )
    space = policy.observation_space
    if isinstance(space, gymnasium.spaces.Dict):
        if not is_goal_space(space):
            raise UnsupportedPolicyError(f"Dict observations other than a goal env's cannot be exported: "
                                         f"{describe_goal_space_problem(space)}")
        specs = {key: raw_observation_spec(sub) for key, sub in space.spaces.items()}
        inputs = {key: keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name, name=key)
                  for key, spec in specs.items()}
        actions, values = policy.greedy_outputs(goal_network_input(inputs, getattr(policy, "observation_clip", None)))
        return keras.Model(inputs, {"actions": actions, "values": values}, name=f"{name}_policy")
    spec = raw_observation_spec(space)
    observations = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name, name=INPUT_NAME)
    actions, values = policy.greedy_outputs(encode_observation(space, observations))
    return keras.Model(observations, {"actions": actions, "values": values}, name=f"{name}_policy")


def goal_network_input(inputs: dict[str, Any], clip: float | None) -> Any:
    """What the goal-conditioned networks take, as Keras tensors: concat(observation, desired goal), clipped to
    +-`clip` when given (the Keras twin of `off_policy.goals.flat_goal_observations`, which the export's parity
    check runs against it)."""
    flat = keras.ops.concatenate([keras.layers.Flatten()(inputs["observation"]),
                                  keras.layers.Flatten()(inputs["desired_goal"])], axis=-1)
    return flat if clip is None else keras.ops.clip(flat, -clip, clip)


def sample_observations(space: gymnasium.Space, count: int, seed: int) -> Observations:
    """`count` valid observations drawn from `space` (seeded), in the dtype the exported model takes; for a Dict
    space, one batch per key."""
    space = copy.deepcopy(space)  # seeding the policy's own space would change its later samples
    space.seed(seed)
    samples = [space.sample() for _ in range(count)]
    if isinstance(space, gymnasium.spaces.Dict):
        return {key: np.stack([np.asarray(sample[key]) for sample in samples]).astype(
                    raw_observation_spec(sub).dtype.as_numpy_dtype) for key, sub in space.spaces.items()}
    dtype = raw_observation_spec(space).dtype.as_numpy_dtype
    return np.stack([np.asarray(sample) for sample in samples]).astype(dtype)
