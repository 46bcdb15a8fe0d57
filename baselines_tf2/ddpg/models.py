"""baselines' `ddpg.models` names: `Actor(nb_actions, network=...)` and `Critic(network=...)`, callables that build
their Keras network on the first call and reuse it after (the TF1 versions reused variable scopes)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from baselines_tf2.off_policy.networks import build_actor, build_critic, is_perturbable


class Model:
    """A named network built lazily from the registry's `network` and its kwargs."""

    def __init__(self, name: str, network: str = "mlp", **network_kwargs: Any) -> None:
        self.name = name
        self.network = network
        self.network_kwargs = network_kwargs
        self.model: keras.Model | None = None

    @property
    def vars(self) -> list[tf.Variable]:
        """All variables (empty before the first call)."""
        return [] if self.model is None else list(self.model.weights)

    @property
    def trainable_vars(self) -> list[tf.Variable]:
        """Trainable variables (empty before the first call)."""
        return [] if self.model is None else list(self.model.trainable_variables)

    @property
    def perturbable_vars(self) -> list[tf.Variable]:
        """The trainable variables parameter noise perturbs: all but the layer norms' (empty before the first
        call)."""
        return [variable for variable in self.trainable_vars if is_perturbable(variable)]


class Actor(Model):
    """`obs` (B, n) -> actions in [-1, 1], shape (B, nb_actions): torso, dense, tanh."""

    def __init__(self, nb_actions: int, name: str = "actor", network: str = "mlp", **network_kwargs: Any) -> None:
        super().__init__(name=name, network=network, **network_kwargs)
        self.nb_actions = nb_actions

    def __call__(self, obs: tf.Tensor, reuse: bool = False) -> tf.Tensor:
        if self.model is None:
            self.model = build_actor(int(obs.shape[-1]), self.nb_actions, self.network, self.network_kwargs,
                                     name=self.name)
        return self.model(obs)


class Critic(Model):
    """(`obs` (B, n), `action` (B, m)) -> Q of shape (B, 1): the two concatenated, torso, dense."""

    def __init__(self, name: str = "critic", network: str = "mlp", **network_kwargs: Any) -> None:
        super().__init__(name=name, network=network, **network_kwargs)

    def __call__(self, obs: tf.Tensor, action: tf.Tensor, reuse: bool = False) -> tf.Tensor:
        if self.model is None:
            self.model = build_critic(int(obs.shape[-1]), int(action.shape[-1]), self.network, self.network_kwargs,
                                      name=self.name)
        return tf.expand_dims(self.model([obs, action]), -1)

    @property
    def output_vars(self) -> list[tf.Variable]:
        """The output layer's kernel and bias (what Pop-Art rescales)."""
        return [] if self.model is None else list(self.model.get_layer("output").weights)
