"""Policies to and from checkpoint files: the metadata that rebuilds a policy, and the checks on loading."""

from __future__ import annotations

import importlib.metadata
from typing import Any, Mapping

import gymnasium
import numpy as np

from baselines_tf2.common.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    space_from_json,
    space_to_json,
)
from baselines_tf2.common.policies import PolicyWithValue

VERSIONED_PACKAGES = ("baselines_tf2", "tensorflow", "keras", "gymnasium", "ale-py", "numpy")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the packages a checkpoint depends on."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


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


def build_policy_from_metadata(metadata: Mapping[str, Any], nenvs: int = 1) -> PolicyWithValue:
    """A fresh policy with the network and spaces a checkpoint describes (weights not loaded)."""
    try:
        observation_space = space_from_json(metadata["observation_space"])
        action_space = space_from_json(metadata["action_space"])
        network = metadata["network"]
        network_kwargs = metadata.get("network_kwargs", {})
    except KeyError as err:
        raise CheckpointError(f"checkpoint metadata lacks {err}; it was not written by baselines_tf2") from None
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint metadata describes an invalid space: {err}") from None
    try:
        return PolicyWithValue(
            observation_space, action_space, network, network_kwargs,
            value_network=metadata.get("value_network"), nenvs=nenvs,
            precision=metadata.get("precision", "float32"),
        )
    except (TypeError, ValueError) as err:  # TypeError: network_kwargs the network does not take
        raise CheckpointError(f"cannot rebuild the checkpoint's policy: {err}") from None


def load_policy(
    path: str, *, expected_alg: str | None = None, nenvs: int = 1
) -> tuple[Any, dict[str, Any], dict[str, list[np.ndarray]]]:
    """(acting policy with the saved weights, metadata, all array groups); any problem is a CheckpointError.

    The policy is a PolicyWithValue for ppo2/a2c checkpoints and deepq's ActWrapper for deepq ones; both offer
    `step` and `act_deterministic`.
    """
    metadata, groups = load_checkpoint(path)
    if expected_alg is not None and metadata.get("alg") != expected_alg:
        raise CheckpointError(f"{path!r} is a {metadata.get('alg')!r} checkpoint, not {expected_alg!r}")
    if metadata.get("alg") == "deepq":
        from baselines_tf2.deepq.act import load_act

        return load_act(path), metadata, groups
    policy = build_policy_from_metadata(metadata, nenvs=nenvs)
    try:
        policy.set_weights(groups.get("policy", []))
    except ValueError as err:
        raise CheckpointError(f"{path!r} does not fit network {metadata['network']!r}: {err}") from None
    return policy, metadata, groups


def check_spaces_match(
    metadata: Mapping[str, Any], observation_space: gymnasium.Space, action_space: gymnasium.Space, path: str
) -> None:
    """Raise CheckpointError saying which space differs between a checkpoint and the env it is used with."""
    for name, space in (("observation_space", observation_space), ("action_space", action_space)):
        saved = metadata.get(name)
        if saved != space_to_json(space):
            raise CheckpointError(
                f"{path!r} was trained with {name.replace('_', ' ')} {_describe(saved)}, "
                f"but this env has {_describe(space_to_json(space))}"
            )


def _describe(space_json: Any) -> str:
    if not isinstance(space_json, dict):
        return repr(space_json)
    if space_json.get("type") == "Discrete":
        return f"Discrete({space_json['n']})"
    if space_json.get("type") == "Box":
        return f"Box(shape={tuple(space_json['shape'])}, dtype={space_json['dtype']})"
    return repr(space_json)
