"""Actor-critic policies to and from checkpoint files: the metadata that rebuilds a policy, and its loader."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from baselines_tf2.nn.policies import PolicyWithValue, actor_critic_shapes
from baselines_tf2.nn.tf_util import check_network_fits_checkpoint
from baselines_tf2.training.checkpoint import (
    CheckpointError,
    library_versions,
    save_checkpoint,
    space_from_json,
    space_to_json,
)


def policy_metadata(policy: PolicyWithValue) -> dict[str, Any]:
    """What rebuilds `policy`: network name and kwargs, value network, observation and action spaces."""
    if policy.description["network"] is None:
        raise CheckpointError(
            "the policy's network was given as a function, which a checkpoint cannot name; "
            "register it with baselines_tf2.common.models.register(name) and pass the name"
        )
    return {
        **policy.description,
        "observation_space": space_to_json(policy.observation_space),
        "action_space": space_to_json(policy.action_space),
    }


def save_policy(
    path: str,
    policy: PolicyWithValue,
    *,
    alg: str,
    extra_metadata: Mapping[str, Any],
    extra_groups: Mapping[str, list[tuple[str, np.ndarray]]] | None = None,
) -> None:
    """Write a checkpoint of `policy` (group `policy`) plus e.g. optimizer state, atomically."""
    metadata = {"alg": alg, **policy_metadata(policy), **extra_metadata, "versions": library_versions()}
    save_checkpoint(path, metadata, {"policy": policy.get_weights(), **dict(extra_groups or {})})


def build_policy_from_metadata(metadata: Mapping[str, Any], nenvs: int = 1,
                               where: str = "the checkpoint") -> PolicyWithValue:
    """A fresh policy with the network and spaces a checkpoint describes (weights not loaded), built only once its
    shapes are known to fit in the arrays the checkpoint stores; `where` names the file in errors."""
    try:
        observation_space = space_from_json(metadata["observation_space"])
        action_space = space_from_json(metadata["action_space"])
        network = metadata["network"]
        network_kwargs = metadata.get("network_kwargs", {})
    except KeyError as err:
        raise CheckpointError(f"checkpoint metadata lacks {err}; it was not written by baselines_tf2") from None
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint metadata describes an invalid space: {err}") from None
    value_network = metadata.get("value_network")
    precision = metadata.get("precision", "float32")
    check_network_fits_checkpoint(
        lambda: [actor_critic_shapes(observation_space, action_space, network, network_kwargs, value_network,
                                     precision)], metadata, where)
    try:
        return PolicyWithValue(
            observation_space, action_space, network, network_kwargs,
            value_network=value_network, nenvs=nenvs, precision=precision,
        )
    except (TypeError, ValueError) as err:  # TypeError: network_kwargs the network does not take
        raise CheckpointError(f"cannot rebuild the checkpoint's policy: {err}") from None


def policy_from_checkpoint(
    metadata: Mapping[str, Any], groups: Mapping[str, list[np.ndarray]], path: str, *, nenvs: int = 1
) -> PolicyWithValue:
    """The acting policy of a ppo2/a2c checkpoint (registered in `baselines_tf2.algorithms`)."""
    policy = build_policy_from_metadata(metadata, nenvs=nenvs, where=repr(path))
    try:
        policy.set_weights(groups.get("policy", []))
    except ValueError as err:
        raise CheckpointError(f"{path!r} does not fit network {metadata['network']!r}: {err}") from None
    return policy
