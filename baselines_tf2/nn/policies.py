"""Actor-critic policies: a network torso with a policy head and a value head, acting through compiled functions.

`PolicyWithValue.step` and `.value` keep baselines' interface (NumPy in, NumPy out) and run compiled functions
traced once, with an input signature whose batch dimension is free, whatever the number of envs.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Mapping

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.validation import ArgumentError, observation_batch
from baselines_tf2.nn.distributions import DiagGaussianHead, make_pd, make_pd_head
from baselines_tf2.nn.models import get_network_builder, is_recurrent
from baselines_tf2.nn.numpy_actor import NumpyActor, can_snapshot
from baselines_tf2.nn.tf_util import CompiledFunction, argmax_int64, assign_variables, dtype_policy, renamed_model
from baselines_tf2.training.checkpoint import json_normalized

VALUE_GAIN = 1.0  # baselines' init_scale of the value head
POLICY_GAIN = 0.01  # and of the policy head
VALUE_NETWORKS = ("shared", "copy")


def _multi_discrete_nvec(space: gymnasium.spaces.MultiDiscrete) -> list[int]:
    """The component sizes of a MultiDiscrete observation space the policies take: 1-D, starting at 0."""
    if space.nvec.ndim != 1 or np.any(space.start):
        raise TypeError(f"observation space {space} is not supported: MultiDiscrete observations must be 1-D and "
                        "start at 0")
    return [int(n) for n in space.nvec]


def observation_encoding(space: gymnasium.Space) -> tuple[tuple[int, ...], str]:
    """Shape and dtype the network sees: Box as is (float64 -> float32), Discrete as a one-hot vector,
    MultiDiscrete as its components' one-hot vectors side by side (baselines' encoding)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return (int(space.n),), "float32"
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return (sum(_multi_discrete_nvec(space)),), "float32"
    if isinstance(space, gymnasium.spaces.Box):
        dtype = np.dtype(space.dtype)
        return tuple(space.shape), "uint8" if dtype == np.uint8 else "float32"
    raise TypeError(
        f"observation space {space} is not supported by the actor-critic policies; use Box, Discrete or "
        "MultiDiscrete (flatten Dict observations with gymnasium.wrappers.FlattenObservation)"
    )


def raw_observation_spec(space: gymnasium.Space) -> tf.TensorSpec:
    """Spec of a batch of observations as the env gives them (before one-hot encoding), batch size free."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return tf.TensorSpec([None], tf.int32)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return tf.TensorSpec([None, len(_multi_discrete_nvec(space))], tf.int32)
    shape, dtype = observation_encoding(space)
    return tf.TensorSpec([None, *shape], tf.as_dtype(dtype))


def encode_observation(space: gymnasium.Space, obs: Any) -> Any:
    """Raw observations -> network input: one-hot for Discrete and MultiDiscrete spaces, unchanged otherwise.

    Built from `keras.ops`, so it serves compiled functions and functional (exported) models alike."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return keras.ops.one_hot(keras.ops.cast(obs, "int32") - int(space.start), int(space.n), dtype="float32")
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        nvec = _multi_discrete_nvec(space)
        # component i's value v sets position offset_i + v of one vector of sum(nvec): the one-hots side by side
        offsets = np.cumsum([0] + nvec[:-1]).astype(np.int32)
        positions = keras.ops.cast(obs, "int32") + offsets
        return keras.ops.sum(keras.ops.one_hot(positions, sum(nvec), dtype="float32"), axis=-2)
    return obs


def action_dtype(space: gymnasium.Space) -> tf.DType:
    """The dtype of a batch of actions for `space`: int64 for discrete spaces, float32 for Box."""
    if isinstance(space, gymnasium.spaces.Box):
        return tf.float32
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return tf.int32
    return tf.int64


class ActorCritic(keras.Model):
    """Torso -> (policy distribution parameters, state value); with a recurrent torso also the new state.

    Feed-forward: call(obs [B, ...]) -> (params, value [B]).
    Recurrent:    call((obs [N, T, ...], masks [N, T], state [N, S])) -> (params, value [N, T], state).
    """

    def __init__(
        self,
        torso: keras.Model,
        value_torso: keras.Model | None,
        action_space: gymnasium.Space,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.torso = torso
        self.value_torso = value_torso
        self.recurrent = is_recurrent(torso)
        self.pd_head = make_pd_head(action_space, init_scale=POLICY_GAIN, name="pi")
        self.value_head = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.Orthogonal(gain=VALUE_GAIN), name="vf", dtype="float32"
        )

    def call(self, inputs: Any) -> tuple[Any, ...]:
        if self.recurrent:
            latent, state = self.torso(inputs)
            return self.pd_head(latent), self._value(latent), tf.cast(state, tf.float32)
        latent = self.torso(inputs)
        value_latent = latent if self.value_torso is None else self.value_torso(inputs)
        return self.pd_head(latent), self._value(value_latent)

    def _value(self, latent: tf.Tensor) -> tf.Tensor:
        return keras.ops.squeeze(self.value_head(latent), axis=-1)


def build_actor_critic(
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    network: str | Callable[[tuple[int, ...], str], keras.Model],
    network_kwargs: Mapping[str, Any] | None = None,
    value_network: str = "shared",
    precision: str = "float32",
) -> ActorCritic:
    """The torso (and, with value_network='copy', a second one for the value) and heads for the spaces; the heads get
    their variables at the first call."""
    if not isinstance(network, str) and not callable(network):
        raise TypeError(f"network must be a registered name or a network_fn, got {network!r}")
    if value_network not in VALUE_NETWORKS:
        raise ArgumentError(f"value_network must be one of {VALUE_NETWORKS} (or None), got {value_network!r}")
    obs_shape, obs_dtype = observation_encoding(observation_space)
    network_fn = get_network_builder(network)(**dict(network_kwargs or {})) if isinstance(network, str) else network
    with dtype_policy(precision):
        torso = network_fn(obs_shape, obs_dtype)
    if is_recurrent(torso) and value_network == "copy":
        raise ArgumentError("value_network='copy' is not supported with recurrent networks; use the shared torso")
    with dtype_policy(precision):
        value_torso = network_fn(obs_shape, obs_dtype) if value_network == "copy" else None
        return ActorCritic(torso, value_torso, action_space, name="actor_critic")


def call_on_one_observation(
    net: ActorCritic, obs_shape: tuple[int, ...], obs_dtype: str, make: Callable[[list[int], str], Any]
) -> None:
    """Call `net` once on a batch of one observation made by `make(shape, dtype)`, creating all its variables:
    `tf.zeros`, or Keras placeholders to create them as shapes only (inside a deferred scope: checkpoint bounds)."""
    if net.recurrent:
        state_size = int(net.torso.state_size)
        net((make([1, 1, *obs_shape], obs_dtype), make([1, 1], "float32"), make([1, state_size], "float32")))
    else:
        net(make([1, *obs_shape], obs_dtype))


def actor_critic_shapes(
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    network: str,
    network_kwargs: Mapping[str, Any],
    value_network: str | None,
    precision: str,
) -> ActorCritic:
    """The ActorCritic a PolicyWithValue of these arguments holds, built on Keras placeholders: run inside a deferred
    scope, it has every variable's shape and no value (what bounds a checkpoint's network before it is built)."""
    net = build_actor_critic(observation_space, action_space, network, network_kwargs, value_network or "shared",
                             precision)
    obs_shape, obs_dtype = observation_encoding(observation_space)
    call_on_one_observation(net, obs_shape, obs_dtype,
                            lambda shape, dtype: keras.Input(batch_shape=shape, dtype=dtype))
    return net


class PolicyWithValue:
    """baselines' policy object: `step`, `value`, `initial_state`, plus `evaluate` for the learners' losses."""

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        network: str | Callable[[tuple[int, ...], str], keras.Model],
        network_kwargs: Mapping[str, Any] | None = None,
        value_network: str | None = None,
        nenvs: int = 1,
        precision: str = "float32",
        seed: int | None = None,
    ) -> None:
        value_network = value_network or "shared"
        self.observation_space = observation_space
        self.action_space = action_space
        self.obs_shape, self.obs_dtype = observation_encoding(observation_space)
        self.net = build_actor_critic(observation_space, action_space, network, network_kwargs, value_network,
                                      precision)
        torso = self.net.torso
        self.recurrent = self.net.recurrent
        self.state_size = int(torso.state_size) if self.recurrent else 0
        self.nenvs = nenvs
        self.description = {
            "network": network if isinstance(network, str) else None,
            "network_kwargs": json_normalized(dict(network_kwargs or {})),  # as a checkpoint holds it
            "value_network": value_network,
            "precision": precision,
        }
        self._build()
        # Action sampling draws from this generator, whose state checkpoints save (exact resume).
        # Without a seed it is seeded from NumPy's global RNG (seeded by set_global_seeds when the run has a seed);
        # TensorFlow's own non-deterministic seeding is refused once op determinism was enabled in this process.
        self.sampler = tf.random.Generator.from_seed(int(np.random.randint(2**31 - 1)) if seed is None else seed)
        self._step_fn = CompiledFunction(self._step_graph, self._acting_signature())
        self._value_fn = CompiledFunction(self._value_graph, self._acting_signature())
        self._mode_fn = CompiledFunction(self._mode_graph, self._acting_signature())

    # ---- building ---------------------------------------------------------------------------------

    def raw_obs_spec(self) -> tf.TensorSpec:
        """Spec of a batch of observations as the env gives them (before one-hot encoding)."""
        return raw_observation_spec(self.observation_space)

    def _acting_signature(self) -> list[tf.TensorSpec]:
        return [
            self.raw_obs_spec(),
            tf.TensorSpec([None, self.state_size], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]

    def _build(self) -> None:
        """Create every variable now (the optimizer and checkpoints need them before the first step)."""
        call_on_one_observation(self.net, self.obs_shape, self.obs_dtype, tf.zeros)

    def encode(self, obs: tf.Tensor) -> tf.Tensor:
        """Raw observations -> network input (one-hot for Discrete spaces)."""
        return encode_observation(self.observation_space, obs)

    def _forward_one_step(self, obs: tf.Tensor, state: tf.Tensor, masks: tf.Tensor) -> tuple[Any, tf.Tensor, tf.Tensor]:
        """Distribution params, value and next state for one step of a batch of envs."""
        encoded = self.encode(obs)
        if not self.recurrent:
            params, value = self.net(encoded)
            return params, value, state
        params, value, new_state = self.net((encoded[:, None], masks[:, None], state))
        params = tf.nest.map_structure(lambda p: p[:, 0], params)
        return params, value[:, 0], new_state

    def _step_graph(self, obs: tf.Tensor, state: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, ...]:
        params, value, new_state = self._forward_one_step(obs, state, masks)
        pd = make_pd(self.action_space, params)
        actions = pd.sample(self.sampler)
        return actions, value, new_state, pd.neglogp(actions)

    def _value_graph(self, obs: tf.Tensor, state: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        return self._forward_one_step(obs, state, masks)[1]

    def _mode_graph(self, obs: tf.Tensor, state: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        params, _value, new_state = self._forward_one_step(obs, state, masks)
        return make_pd(self.action_space, params).mode(), new_state

    # ---- acting (NumPy interface) -----------------------------------------------------------------

    @property
    def initial_state(self) -> np.ndarray | None:
        """Zero recurrent state for `nenvs` envs, or None for feed-forward policies (baselines' contract)."""
        return np.zeros((self.nenvs, self.state_size), np.float32) if self.recurrent else None

    def _acting_inputs(self, obs: Any, S: np.ndarray | None, M: np.ndarray | None) -> tuple[tf.Tensor, ...]:
        raw_spec = self.raw_obs_spec()
        obs = observation_batch(obs, tuple(raw_spec.shape[1:]))
        obs_tensor = tf.convert_to_tensor(obs.astype(raw_spec.dtype.as_numpy_dtype, copy=False))
        batch = obs.shape[0]
        state = np.zeros((batch, self.state_size), np.float32) if S is None else np.asarray(S, np.float32)
        masks = np.zeros(batch, np.float32) if M is None else np.asarray(M, np.float32)
        return obs_tensor, tf.convert_to_tensor(state), tf.convert_to_tensor(masks)

    def step(
        self, obs: Any, S: np.ndarray | None = None, M: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """Sample actions: `(actions, values, states, neglogp)`, states None for feed-forward policies."""
        actions, values, states, neglogp = self._step_fn(*self._acting_inputs(obs, S, M))
        return actions.numpy(), values.numpy(), (states.numpy() if self.recurrent else None), neglogp.numpy()

    def value(self, obs: Any, S: np.ndarray | None = None, M: np.ndarray | None = None) -> np.ndarray:
        """State values V(obs)."""
        return self._value_fn(*self._acting_inputs(obs, S, M)).numpy()

    def rollout_actor(self, steps: int, nenvs: int) -> PolicyWithValue | NumpyActor:
        """What acts for the next `steps` steps of `nenvs` envs: a NumPy snapshot of this policy where one mirrors it
        exactly (small float32 MLPs: no TensorFlow call per step), else the policy itself."""
        return NumpyActor(self, steps, nenvs) if self._snapshot_ok else self

    @cached_property
    def _snapshot_ok(self) -> bool:
        return can_snapshot(self)

    def act_deterministic(
        self, obs: Any, S: np.ndarray | None = None, M: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The most likely actions (the distribution's mode) and the next recurrent state."""
        actions, states = self._mode_fn(*self._acting_inputs(obs, S, M))
        return actions.numpy(), (states.numpy() if self.recurrent else None)

    # ---- training ---------------------------------------------------------------------------------

    value_kind = "V(s)"  # what `greedy_outputs`' values are

    def greedy_outputs(self, encoded: Any) -> tuple[Any, Any]:
        """(most likely actions, V(s)) as Keras tensors of an encoded observation batch, from this policy's layers
        (for export: argmax of the logits, each MultiDiscrete component's argmax, logits > 0 for MultiBinary, the
        Gaussian's mean for Box)."""
        net = self.net
        latent = renamed_model(net.torso, "policy_torso")(encoded)
        value_latent = latent if net.value_torso is None else renamed_model(net.value_torso, "value_torso")(encoded)
        values = keras.ops.squeeze(net.value_head(value_latent), axis=-1)
        if isinstance(net.pd_head, DiagGaussianHead):
            return net.pd_head.mean_layer(latent), values
        logits = net.pd_head(latent)
        if isinstance(self.action_space, gymnasium.spaces.Discrete):
            return argmax_int64(logits), values
        if isinstance(self.action_space, gymnasium.spaces.MultiDiscrete):
            boundaries = np.cumsum(self.action_space.nvec)[:-1].tolist()
            parts = keras.ops.split(logits, boundaries, axis=-1) if boundaries else [logits]
            return keras.ops.stack([argmax_int64(part) for part in parts], axis=-1), values
        return keras.ops.cast(keras.ops.greater(logits, 0.0), "int8"), values  # MultiBinary

    def reference_outputs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What `greedy_outputs` must give for `obs`, through the acting functions."""
        return {"actions": self.act_deterministic(obs)[0], "values": self.value(obs)}

    def evaluate(
        self, obs: tf.Tensor, actions: tf.Tensor, masks: tf.Tensor | None = None, states: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(neglogp of `actions`, entropy, values) for a flat batch; recurrent batches are whole env sequences.

        For recurrent policies `obs` holds `len(states)` envs' sequences back to back (env-major), `masks` their
        episode starts, and `states` each sequence's initial state.
        """
        encoded = self.encode(obs)
        if self.recurrent:
            envs = tf.shape(states)[0]
            steps = tf.shape(encoded)[0] // envs
            obs_seq = tf.reshape(encoded, tf.concat([[envs, steps], tf.shape(encoded)[1:]], axis=0))
            mask_seq = tf.reshape(masks, [envs, steps])
            params, values, _state = self.net((obs_seq, mask_seq, states))
            params = tf.nest.map_structure(lambda p: tf.reshape(p, tf.concat([[-1], tf.shape(p)[2:]], 0)), params)
            values = tf.reshape(values, [-1])
        else:
            params, values = self.net(encoded)
        pd = make_pd(self.action_space, params)
        return pd.neglogp(actions), pd.entropy(), values

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return self.net.trainable_variables

    def get_weights(self) -> list[tuple[str, np.ndarray]]:
        """Every weight in model order, named by its Keras path."""
        return [(variable.path, np.asarray(variable.numpy())) for variable in self.net.weights]

    def set_weights(self, named_arrays: list[tuple[str, np.ndarray]] | list[np.ndarray]) -> None:
        """Load weights in model order; a count or shape mismatch raises ValueError naming the first culprit."""
        arrays = [item[1] if isinstance(item, tuple) else item for item in named_arrays]
        assign_variables(self.net.weights, arrays, "policy")
