"""The object deepq.learn returns: baselines' `act` (callable on observations), with save/load as data."""

from __future__ import annotations

import os
from typing import Any, Mapping

import gymnasium
import keras
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.deepq.deepq_learner import DQNModel
from baselines_tf2.deepq.models import build_q_network, q_network_shapes
from baselines_tf2.nn.models import with_builder_defaults
from baselines_tf2.nn.tf_util import (
    argmax_int64,
    assign_checkpoint_arrays,
    assign_checkpoint_groups,
    check_network_fits_checkpoint,
    renamed_model,
)
from baselines_tf2.training.checkpoint import (
    CheckpointError,
    check_network_matches,
    check_spaces_match,
    library_versions,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
    space_from_json,
    space_to_json,
)

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
    kwargs = _with_head_defaults(network_kwargs)
    online = build_q_network(observation_space, action_space, network, precision=precision, **kwargs)
    target = build_q_network(observation_space, action_space, network, precision=precision, **kwargs)
    model = DQNModel(observation_space, online, target, lr=lr, double_q=double_q, seed=seed)
    return ActWrapper(model, network, kwargs, action_space, precision)


def _with_head_defaults(network_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The torso's kwargs plus the Q-head's (hiddens, dueling, layer_norm), baselines' defaults where not given."""
    return {**HEAD_KWARGS, **dict(network_kwargs)}


def load_act(path: str) -> ActWrapper:
    """The act saved at `path`, rebuilt from its metadata (network, head kwargs, spaces); CheckpointError if bad."""
    metadata = read_metadata(path)
    act = _act_for(metadata, path)
    act.load(path)
    act.run_metadata = {key: metadata[key] for key in ("env", "hyperparameters", "seed") if key in metadata}
    return act


def act_from_checkpoint(
    metadata: Mapping[str, Any], groups: Mapping[str, list[np.ndarray]], path: str, *, nenvs: int = 1
) -> ActWrapper:
    """The act of a deepq checkpoint with its Q-network weights, computing in `metadata['precision']` (registered in
    `baselines_tf2.algorithms`; `nenvs` does not matter to a Q-network)."""
    act = _act_for(metadata, path)
    assign_checkpoint_arrays(act.model.q_network.weights, list(groups.get("policy", [])), path, "Q-network")
    act.epsilon = float(metadata.get("epsilon", 0.0))
    act.timesteps = int(metadata.get("timesteps", 0))
    act.run_metadata = {key: metadata[key] for key in ("env", "hyperparameters", "seed") if key in metadata}
    return act


def _require_deepq(metadata: Mapping[str, Any], path: str) -> None:
    if metadata.get("alg") != ActWrapper.alg:
        raise CheckpointError(f"{path!r} is a {metadata.get('alg')!r} checkpoint, not a deepq one")


def _act_for(metadata: Mapping[str, Any], path: str) -> ActWrapper:
    """A fresh act with the network, head and spaces a checkpoint describes (weights not loaded), built only once its
    shapes are known to fit in the Q-network weights the checkpoint stores."""
    _require_deepq(metadata, path)  # another algorithm's file is named as such, before its network is weighed
    try:
        observation_space = space_from_json(metadata["observation_space"])
        action_space = space_from_json(metadata["action_space"])
        network = metadata["network"]
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the deepq model of {path!r}: {err}") from None
    network_kwargs = metadata.get("network_kwargs", {})
    precision = metadata.get("precision", "float32")
    check_network_fits_checkpoint(
        lambda: [q_network_shapes(observation_space, action_space, network, precision=precision,
                                  **_with_head_defaults(network_kwargs))], metadata, repr(path))
    try:
        return build_act(observation_space, action_space, network, network_kwargs,
                         lr=float(metadata.get("hyperparameters", {}).get("lr", 5e-4)), double_q=True,
                         precision=precision)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the deepq model of {path!r}: {err}") from None


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

    def step(self, obs: Any, S: Any = None, M: Any = None, **act_kwargs: Any) -> tuple[np.ndarray, None, None, None]:
        """baselines' model.step shape: epsilon-greedy actions (`act_kwargs`: stochastic, update_eps), no values,
        states or neglogp."""
        return self(obs, **act_kwargs), None, None, None

    def act_deterministic(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, None]:
        """Greedy actions."""
        return self(obs, stochastic=False), None

    value_kind = "Q-values"  # what `greedy_outputs`' values are

    def greedy_outputs(self, encoded: Any) -> tuple[Any, Any]:
        """(argmax Q, Q-values) as Keras tensors of an encoded observation batch, as QNetwork.call computes them
        (V + A - mean(A) when dueling), from plain layers (for export)."""
        q_network = self.model.q_network
        latent = keras.layers.Flatten(name="flatten_latent")(renamed_model(q_network.torso, "q_torso")(encoded))
        advantages = _stream_output(q_network.action_stream, latent)
        if q_network.value_stream is None:
            q_values = advantages
        else:
            state_values = _stream_output(q_network.value_stream, latent)
            q_values = state_values + advantages - keras.ops.mean(advantages, axis=1, keepdims=True)
        return argmax_int64(q_values), q_values

    def reference_outputs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What `greedy_outputs` must give for `obs`, through the compiled acting functions."""
        return {
            "actions": self(obs, stochastic=False),
            "values": self.model.q_values(self.model.obs_tensor(obs)).numpy(),
        }

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

    def save(self, path: str, extra_metadata: dict[str, Any] | None = None,
             extra_groups: dict[str, list[tuple[str, np.ndarray]]] | None = None) -> None:
        """Write Q-network weights, target weights, optimizer state, metadata and the extras atomically
        (never a pickle)."""
        named = lambda variables: [(v.path, np.asarray(v.numpy())) for v in variables]  # noqa: E731
        save_checkpoint(path, {**self.metadata(), **(extra_metadata or {})}, {
            "policy": named(self.model.q_network.weights),
            "target": named(self.model.target_network.weights),
            "optimizer": named(self.model.optimizer.variables),
            **(extra_groups or {}),
        })

    def save_act(self, path: str | None = None) -> None:
        """baselines' name for `save`; without a path, `model.pkl` in the logger's folder (a checkpoint, not a
        pickle, whatever the name)."""
        if path is None:
            folder = logger.get_dir()
            if folder is None:
                raise ValueError("save_act() without a path needs a logger folder (logger.configure(dir))")
            path = os.path.join(folder, "model.pkl")
        self.save(path)

    @staticmethod
    def load_act(path: str) -> ActWrapper:
        """baselines' `ActWrapper.load_act`: `deepq.load_act(path)`."""
        return load_act(path)

    def load(self, path: str) -> dict[str, Any]:
        """Restore everything `save` wrote, after checking the checkpoint is a deepq one for these spaces and net."""
        metadata, groups = load_checkpoint(path)
        _require_deepq(metadata, path)
        check_spaces_match(metadata, self.observation_space, self.action_space, path)
        check_network_matches(metadata, self.network, self.network_kwargs, path, with_builder_defaults)
        assignments = [(self.model.q_network.weights, groups.get("policy", []), "Q-network"),
                       (self.model.target_network.weights, groups.get("target", groups.get("policy", [])), "target")]
        if "optimizer" in groups:
            assignments.append((self.model.optimizer.variables, groups["optimizer"], "optimizer"))
        # the optimizer state holds the learning rate it was trained with; learn()'s lr applies
        learning_rate = self.model.optimizer.learning_rate.numpy()
        assign_checkpoint_groups(assignments, path)
        self.model.optimizer.learning_rate.assign(learning_rate)
        self.epsilon = float(metadata.get("epsilon", 0.0))
        self.timesteps = int(metadata.get("timesteps", 0))
        return metadata

    def load_weights_only(self, path: str) -> None:
        """Restore only the Q-network weights (the best model at the end of training)."""
        _metadata, groups = load_checkpoint(path)
        assign_checkpoint_arrays(self.model.q_network.weights, groups.get("policy", []), path, "Q-network")



def _stream_output(stream: keras.Model, latent: Any) -> Any:
    """A Q-network head stream's layers applied to `latent` one by one, so the exported graph holds plain layers."""
    for layer in stream.stream_layers:
        latent = layer(latent)
    return latent
