"""The object deepq.learn returns: baselines' `act` (callable on observations), with save/load as data."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium
import numpy as np
import tensorflow as tf

from baselines_tf2.common.checkpoint import (
    CheckpointError,
    json_normalized,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
    space_from_json,
    space_to_json,
)
from baselines_tf2.common.saving import check_spaces_match, library_versions
from baselines_tf2.common.tf_util import assign_variables
from baselines_tf2.deepq.deepq_learner import DQNModel
from baselines_tf2.deepq.models import build_q_network

HEAD_KWARGS = {"hiddens": [256], "dueling": True, "layer_norm": False}  # baselines' build_q_func defaults


def build_act(
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    network: str,
    network_kwargs: Mapping[str, Any],
    *,
    lr: float,
    double_q: bool,
    precision: str = "float32",
    seed: int | None = None,
) -> ActWrapper:
    """Online and target Q-networks for the spaces, wrapped as baselines' act; `seed` seeds exploration."""
    kwargs = {**HEAD_KWARGS, **dict(network_kwargs)}
    online = build_q_network(observation_space, action_space, network, precision=precision, **kwargs)
    target = build_q_network(observation_space, action_space, network, precision=precision, **kwargs)
    model = DQNModel(observation_space, online, target, lr=lr, double_q=double_q, seed=seed)
    return ActWrapper(model, network, kwargs, action_space, precision)


def load_act(path: str) -> ActWrapper:
    """The act saved at `path`, rebuilt from its metadata (network, head kwargs, spaces); CheckpointError if bad."""
    metadata = read_metadata(path)
    try:
        observation_space = space_from_json(metadata["observation_space"])
        action_space = space_from_json(metadata["action_space"])
        act = build_act(observation_space, action_space, metadata["network"], metadata.get("network_kwargs", {}),
                        lr=float(metadata.get("hyperparameters", {}).get("lr", 5e-4)), double_q=True,
                        precision=metadata.get("precision", "float32"))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the deepq model of {path!r}: {err}") from None
    act.load(path)
    act.run_metadata = {key: metadata[key] for key in ("env", "hyperparameters", "seed") if key in metadata}
    return act


class ActWrapper:
    """`act(obs, stochastic=True, update_eps=-1)` -> actions, as baselines; plus `save`, `load`, and `step`.

    Stochastic acting uses the exploration epsilon last set by `update_eps` (training leaves it at the final
    epsilon); `stochastic=False` is greedy.
    """

    alg = "deepq"
    recurrent = False
    state_size = 0
    initial_state = None

    def __init__(self, model: DQNModel, network: str, network_kwargs: Mapping[str, Any], action_space: gymnasium.Space,
                 precision: str = "float32"):
        self.model = model
        self.network = network
        self.precision = precision
        self.network_kwargs = dict(network_kwargs)
        self.observation_space = model.observation_space
        self.action_space = action_space
        self.epsilon = 0.0
        self.timesteps = 0
        self.run_metadata: dict[str, Any] = {}

    def __call__(self, obs: Any, stochastic: bool = True, update_eps: float = -1) -> np.ndarray:
        if update_eps >= 0:
            self.epsilon = float(update_eps)
        epsilon = self.epsilon if stochastic else 0.0
        return self.model.act(obs, epsilon)

    @property
    def policy(self) -> ActWrapper:
        """The acting interface play uses (this object: `step` and `act_deterministic`)."""
        return self

    def step(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, None, None, None]:
        """baselines' model.step shape: epsilon-greedy actions, no values, states or neglogp."""
        return self(obs), None, None, None

    def act_deterministic(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, None]:
        """Greedy actions."""
        return self(obs, stochastic=False), None

    def metadata(self) -> dict[str, Any]:
        """What rebuilds this act: network, its kwargs and the head's, spaces, plus run metadata."""
        return {
            "alg": self.alg,
            "network": self.network,
            "network_kwargs": self.network_kwargs,
            "precision": self.precision,
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "epsilon": self.epsilon,
            "timesteps": self.timesteps,
            **self.run_metadata,
            "versions": library_versions(),
        }

    def save(self, path: str, extra_groups: dict[str, list[tuple[str, np.ndarray]]] | None = None) -> None:
        """Write Q-network weights, target weights, optimizer state, metadata and `extra_groups` atomically
        (never a pickle)."""
        named = lambda variables: [(v.path, np.asarray(v.numpy())) for v in variables]  # noqa: E731
        save_checkpoint(path, self.metadata(), {
            "policy": named(self.model.q_network.weights),
            "target": named(self.model.target_network.weights),
            "optimizer": named(self.model.optimizer.variables),
            **(extra_groups or {}),
        })

    def load(self, path: str) -> dict[str, Any]:
        """Restore everything `save` wrote, after checking the checkpoint is a deepq one for these spaces and net."""
        metadata, groups = load_checkpoint(path)
        if metadata.get("alg") != self.alg:
            raise CheckpointError(f"{path!r} is a {metadata.get('alg')!r} checkpoint, not a deepq one")
        check_spaces_match(metadata, self.observation_space, self.action_space, path)
        for key, ours in (("network", self.network), ("network_kwargs", json_normalized(self.network_kwargs))):
            if metadata.get(key) != ours:
                raise CheckpointError(f"{path!r} holds {key} {metadata.get(key)!r}, but this model has {ours!r}")
        _assign(self.model.q_network.weights, groups.get("policy", []), path, "Q-network")
        _assign(self.model.target_network.weights, groups.get("target", groups.get("policy", [])), path, "target")
        if "optimizer" in groups:
            _assign(self.model.optimizer.variables, groups["optimizer"], path, "optimizer")
        self.epsilon = float(metadata.get("epsilon", 0.0))
        self.timesteps = int(metadata.get("timesteps", 0))
        return metadata

    def load_weights_only(self, path: str) -> None:
        """Restore only the Q-network weights (the best model at the end of training)."""
        _metadata, groups = load_checkpoint(path)
        _assign(self.model.q_network.weights, groups["policy"], path, "Q-network")


def _assign(variables: list[tf.Variable], arrays: list[np.ndarray], path: str, what: str) -> None:
    try:
        assign_variables(variables, arrays, what)
    except ValueError as err:
        raise CheckpointError(f"{path!r} does not fit this model: {err}") from None
