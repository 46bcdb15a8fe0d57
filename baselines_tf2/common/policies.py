"""baselines' path `baselines.common.policies`: re-exports `baselines_tf2.nn.policies` (the TensorFlow side)."""

from baselines_tf2.nn.policies import (  # noqa: F401
    POLICY_GAIN,
    VALUE_GAIN,
    VALUE_NETWORKS,
    ActorCritic,
    PolicyWithValue,
    action_dtype,
    encode_observation,
    observation_encoding,
    raw_observation_spec,
)

__all__ = [
    'VALUE_GAIN', 'POLICY_GAIN', 'VALUE_NETWORKS', 'observation_encoding', 'raw_observation_spec', 'encode_observation',
    'action_dtype', 'ActorCritic', 'PolicyWithValue',
]
