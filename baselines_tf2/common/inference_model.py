"""A loaded policy as a plain Keras model (raw observations -> greedy actions and values), for export.

The model is functional and built only from Keras' own layers and `keras.ops`, reusing the policy's layers (so its
weights), which is why it saves, exports and reloads with plain Keras/TensorFlow, without this library.

Outputs, both with the batch as first dimension:
    actions  the policy's most likely action: argmax of the logits (Discrete: int64 [B]; MultiDiscrete: int64
             [B, k], one argmax per component), logits > 0 (MultiBinary: int8 [B, n]), the Gaussian's mean (Box:
             float32 [B, d]); deepq: argmax of the Q-values (int64 [B])
    values   ppo2/a2c: the state value V(s), float32 [B]; deepq: the Q-values, float32 [B, n_actions]
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import keras
import numpy as np
from keras import ops

from baselines_tf2.common.distributions import DiagGaussianHead
from baselines_tf2.common.export_formats import INPUT_NAME
from baselines_tf2.common.policies import raw_observation_spec


class UnsupportedPolicyError(ValueError):
    """A policy that cannot be exported as a feed-forward function of the observations (e.g. a recurrent one)."""


def inference_model(policy: Any, alg: str) -> keras.Model:
    """Functional model: raw observation batch -> {'actions': greedy actions, 'values': V(s) or Q(s, .)}."""
    if getattr(policy, "recurrent", False):
        raise UnsupportedPolicyError(
            "recurrent policies (lstm, cnn_lstm, cnn_lnlstm) cannot be exported: their actions depend on a state "
            "and episode-start masks the exported function would have to take and return; export a feed-forward one"
        )
    spec = raw_observation_spec(policy.observation_space)
    observations = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name, name=INPUT_NAME)
    encoded = _encoded(policy.observation_space, observations)
    if alg == "deepq":
        actions, values = _greedy_q(policy.model.q_network, encoded)
    else:
        actions, values = _actor_critic_mode(policy.net, policy.action_space, encoded)
    return keras.Model(observations, {"actions": actions, "values": values}, name=f"{alg}_policy")


def reference_outputs(policy: Any, alg: str, obs: np.ndarray) -> dict[str, np.ndarray]:
    """What the exported model must return for `obs`, computed through the policy's own acting functions."""
    if alg == "deepq":
        q_values = policy.model.q_values(policy.model.obs_tensor(obs)).numpy()
        return {"actions": policy(obs, stochastic=False), "values": q_values}
    return {"actions": policy.act_deterministic(obs)[0], "values": policy.value(obs)}


def sample_observations(space: gymnasium.Space, count: int, seed: int) -> np.ndarray:
    """`count` valid observations drawn from `space` (seeded), in the dtype the exported model takes."""
    space = copy.deepcopy(space)  # seeding the policy's own space would change its later samples
    space.seed(seed)
    dtype = raw_observation_spec(space).dtype.as_numpy_dtype
    return np.stack([np.asarray(space.sample()) for _ in range(count)]).astype(dtype)


def _encoded(space: gymnasium.Space, observations: keras.KerasTensor) -> keras.KerasTensor:
    """Raw observations -> network input, as `policies.encode_observation` (one-hot for Discrete spaces)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return ops.one_hot(ops.cast(observations, "int32"), int(space.n), dtype="float32")
    return observations


def _renamed(torso: keras.Model, name: str) -> keras.Model:
    """The same layers under a new model name (two torsos both named 'mlp' cannot sit in one model)."""
    return keras.Model(torso.inputs[0], torso.outputs[0], name=name)


def _argmax(scores: keras.KerasTensor) -> keras.KerasTensor:
    """Index of the largest score, int64 (first on ties, as tf.argmax).

    top_k rather than ops.argmax: Keras' argmax adds a bitwise -0.0 fix-up that TFLite has no kernel for.
    """
    return ops.cast(ops.top_k(scores, k=1)[1][:, 0], "int64")


def _actor_critic_mode(net: keras.Model, action_space: gymnasium.Space, encoded: keras.KerasTensor) -> tuple:
    latent = _renamed(net.torso, "policy_torso")(encoded)
    value_latent = latent if net.value_torso is None else _renamed(net.value_torso, "value_torso")(encoded)
    values = ops.squeeze(net.value_head(value_latent), axis=-1)
    if isinstance(net.pd_head, DiagGaussianHead):
        return net.pd_head.mean_layer(latent), values
    logits = net.pd_head(latent)
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return _argmax(logits), values
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete):
        boundaries = np.cumsum(action_space.nvec)[:-1].tolist()
        parts = ops.split(logits, boundaries, axis=-1) if boundaries else [logits]
        return ops.stack([_argmax(part) for part in parts], axis=-1), values
    return ops.cast(ops.greater(logits, 0.0), "int8"), values  # MultiBinary


def _greedy_q(q_network: keras.Model, encoded: keras.KerasTensor) -> tuple:
    """Q-values as QNetwork.call computes them (V + A - mean(A) when dueling) and their argmax."""
    latent = keras.layers.Flatten(name="flatten_latent")(_renamed(q_network.torso, "q_torso")(encoded))
    advantages = _stream_output(q_network.action_stream, latent)
    if q_network.value_stream is None:
        q_values = advantages
    else:
        state_values = _stream_output(q_network.value_stream, latent)
        q_values = state_values + advantages - ops.mean(advantages, axis=1, keepdims=True)
    return _argmax(q_values), q_values


def _stream_output(stream: keras.Model, latent: keras.KerasTensor) -> keras.KerasTensor:
    """A Q-network head stream's layers applied to `latent` one by one, so the exported graph holds plain layers."""
    for layer in stream.stream_layers:
        latent = layer(latent)
    return latent
