"""The agent DDPG, TD3 and SAC share: spaces and action scaling, the observation normalizer, compiled acting,
checkpoints as data (save, load, rebuild for play/evaluate/export), and the acting policy play uses.

A subclass builds its networks and optimizers (`build`), names its variables for checkpoints (`variable_groups`),
and defines exploration (`explore`) and one compiled update (`train_step`).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, Mapping

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.mpi_util import World, world
from baselines_tf2.common.validation import observation_batch
from baselines_tf2.nn.models import with_builder_defaults
from baselines_tf2.nn.tf_util import CompiledFunction, assign_checkpoint_arrays, check_network_fits_checkpoint
from baselines_tf2.off_policy.goals import flat_goal_observations, goal_sizes, is_goal_space
from baselines_tf2.off_policy.networks import ObservationNormalizer, build_actor
from baselines_tf2.training.checkpoint import (
    CheckpointError,
    check_network_matches,
    check_spaces_match,
    library_versions,
    load_checkpoint,
    save_checkpoint,
    space_from_json,
    space_to_json,
)


def check_spaces(observation_space: gymnasium.Space, action_space: gymnasium.Space, alg: str) -> None:
    """ValueError unless the observations are a flat-able Box (or a goal env's Dict) and the actions a bounded Box."""
    if not isinstance(action_space, gymnasium.spaces.Box):
        raise ValueError(f"{alg} needs a continuous (Box) action space, got {action_space}; use deepq, ppo2 or a2c "
                         "for discrete actions")
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise ValueError(f"{alg} scales its tanh actions to the action space's bounds, which must be finite; got "
                         f"{action_space}")
    if not isinstance(observation_space, gymnasium.spaces.Box) and not is_goal_space(observation_space):
        raise ValueError(f"{alg} needs Box observations or a goal env's Dict (observation, achieved_goal, "
                         f"desired_goal), got {observation_space} (flatten other Dict observations with "
                         "gymnasium.wrappers.FlattenObservation)")


def flat_observation_size(space: gymnasium.Space) -> int:
    """The size of the learners' flat input: a Box's elements, or a goal env's observation plus desired goal."""
    if is_goal_space(space):
        return sum(goal_sizes(space))  # type: ignore[arg-type]  # is_goal_space: a Dict
    return int(np.prod(space.shape or ()))


def batch_signature(obs_size: int, nb_actions: int) -> dict[str, tf.TensorSpec]:
    """The replay batch the compiled updates take (Memory.sample's dict)."""
    return {"obs0": tf.TensorSpec([None, obs_size], tf.float32),
            "actions": tf.TensorSpec([None, nb_actions], tf.float32),
            "rewards": tf.TensorSpec([None, 1], tf.float32),
            "obs1": tf.TensorSpec([None, obs_size], tf.float32),
            "terminals1": tf.TensorSpec([None, 1], tf.float32)}


class OffPolicyAgent(ABC):
    """Actor, critics, targets and optimizers of one continuous-control learner, with `save`/`load` as data.

    Actions inside the agent (replay, networks) are in [-1, 1]; `step`, `act_deterministic` and `__call__` return
    them scaled to the env's [low, high].
    """

    alg: str  # the algorithm's name in checkpoints and on the command line
    recurrent = False
    state_size = 0
    initial_state = None
    value_kind = "Q(s, a)"  # what an exported model's 'values' output holds: the critic at the greedy action
    actor: keras.Model  # the acting network, made by `build`
    data_parallel = False  # under MPI, the ranks train one agent (DDPG); otherwise each rank trains its own
    # builds the acting network from (obs_size, nb_actions, network, network_kwargs, name=); loading a checkpoint
    # bounds its shapes with this before building the agent
    actor_builder = staticmethod(build_actor)

    observation_clip: float | None = None  # raw observations are clipped to +-this before anything (HER's clip_obs)
    redrawn_groups: tuple[str, ...] = ()  # exploration state a checkpoint may lack (trained with other noise)

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space, network: str,
                 network_kwargs: Mapping[str, Any], config: Any) -> None:
        check_spaces(observation_space, action_space, self.alg)
        assert isinstance(action_space, gymnasium.spaces.Box)
        self.observation_space = observation_space
        self.goal_observations = is_goal_space(observation_space)  # acts on concat(observation, desired_goal)
        self.action_space: gymnasium.spaces.Box = action_space
        self.network = network
        self.network_kwargs = dict(network_kwargs)
        self.config = config
        self.precision = "float32"
        self.obs_size = flat_observation_size(observation_space)
        self.nb_actions = int(np.prod(action_space.shape))
        self.low = np.asarray(action_space.low, np.float32).reshape(-1)
        self.high = np.asarray(action_space.high, np.float32).reshape(-1)
        self.world = world() if self.data_parallel else World()  # the ranks training this agent together
        self.normalizer = ObservationNormalizer(self.obs_size, config.normalize_observations, self.world,
                                                **self.normalizer_settings())
        self.timesteps = 0
        self.run_metadata: dict[str, Any] = {}
        self.build()
        obs_spec = tf.TensorSpec([None, self.obs_size], tf.float32)
        self.deterministic_actions = CompiledFunction(self._deterministic_actions, [obs_spec])

    def normalizer_settings(self) -> dict[str, float]:
        """The observation normalizer's variance floor and clip, when not baselines' DDPG ones."""
        return {}

    @abstractmethod
    def build(self) -> None:
        """Create the actor, critics, targets and optimizers (`self.actor` is the acting network)."""

    @abstractmethod
    def variable_groups(self) -> dict[str, list[tf.Variable]]:
        """Every variable a checkpoint holds, by group; 'policy' is the actor, which alone acts."""

    @abstractmethod
    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Exploratory actions in [-1, 1] for a batch of observations."""

    @abstractmethod
    def train_step(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """One compiled update on a replay batch; its statistics (tensors), including 'skipped' (1.0 if the update
        was dropped for a non-finite loss or gradient)."""

    def after_episode(self, env_index: int, num_envs: int) -> None:
        """An episode of env `env_index` ended (DDPG restarts its noise here)."""

    def before_rollout(self, num_envs: int) -> None:
        """A collection of `nb_rollout_steps` starts (DDPG re-perturbs the actor here with several envs)."""

    def maybe_adapt(self, train_step: int, memory: Any) -> dict[str, float]:
        """Called before gradient step `train_step` of each iteration (DDPG adapts its parameter noise)."""
        return {}

    def observe(self, observations: Any) -> None:
        """One env step's observations, before acting on them: the running statistics learn them (not HER's, whose
        statistics learn relabelled goals in `after_rollout`)."""
        self.normalizer.update(self.flat_observations(observations))

    def after_rollout(self, memory: Any, steps: int) -> None:
        """The iteration's `steps` env steps per env are stored; its updates come next."""

    def after_training(self) -> None:
        """The iteration's updates are done (HER moves its targets here, once per cycle, as baselines)."""

    def noise_state(self) -> dict[str, Any]:
        """The exploration noise's state, for checkpoints."""
        return {}

    def set_noise_state(self, state: Mapping[str, Any]) -> None:
        """Take back `noise_state`."""

    @abstractmethod
    def _deterministic_actions(self, obs: tf.Tensor) -> tf.Tensor:
        """The actor's most likely actions in [-1, 1] for raw (unnormalized) observations."""

    # ---- acting ---------------------------------------------------------------------------------------

    def flat_observations(self, obs: Any) -> np.ndarray:
        """A batch of raw observations (a goal env's dict of batches) as the float32 [B, obs_size] array the
        networks take."""
        if self.goal_observations:
            return flat_goal_observations(obs, self.observation_clip)
        batch = observation_batch(obs, tuple(self.observation_space.shape or ()), "an agent")
        flat = batch.astype(np.float32, copy=False).reshape(len(batch), self.obs_size)
        return flat if self.observation_clip is None else np.clip(flat, -self.observation_clip, self.observation_clip)

    def obs_tensor(self, obs: Any) -> tf.Tensor:
        """A batch of raw observations as the float32 [B, obs_size] tensor the compiled functions take."""
        return tf.convert_to_tensor(self.flat_observations(obs))

    def scale_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions in [-1, 1] -> the env's [low, high] (baselines multiplies by `high`, the same when symmetric),
        clipped to them: float32 rounding takes 1 to just above `high` for bounds such as [-2, 0.2]."""
        scaled = self.low + (np.asarray(actions, np.float32) + 1.0) * 0.5 * (self.high - self.low)
        return np.clip(scaled, self.low, self.high).reshape((-1, *self.action_space.shape))

    def __call__(self, obs: Any) -> np.ndarray:
        """The deterministic actions of a batch of observations, in the env's units."""
        return self.scale_actions(self.deterministic_actions(self.obs_tensor(obs)).numpy())

    @property
    def policy(self) -> OffPolicyAgent:
        """The acting interface play uses (this object)."""
        return self

    def step(self, obs: Any, *, S: Any = None, M: Any = None) -> tuple[np.ndarray, None, None, None]:
        """baselines' model.step shape: actions in the env's units without exploration noise, no values or states.
        S and M are keyword-only, so baselines' DDPG call `step(obs, apply_noise, compute_Q)` (actions in [-1, 1]
        and Q) fails instead of binding them."""
        return self(obs), None, None, None

    def act_deterministic(self, obs: Any, S: Any = None, M: Any = None) -> tuple[np.ndarray, None]:
        """The actor's deterministic (for SAC: mean) actions."""
        return self(obs), None

    def greedy_outputs(self, encoded: Any) -> tuple[Any, Any]:
        """(deterministic actions in env units, Q of them) as Keras tensors of an observation batch, for export."""
        flat = keras.layers.Flatten(name="flat_observations")(encoded)
        if self.normalizer.enabled:
            mean, std = (keras.ops.convert_to_tensor(value.numpy()) for value in self.normalizer.mean_std())
            clip = self.normalizer.clip
            flat = keras.ops.clip((flat - mean) / (std + 1e-8), -clip, clip)
        unit_actions = self.export_actions(flat)
        low = keras.ops.convert_to_tensor(self.low)
        high = keras.ops.convert_to_tensor(self.high)
        # clipped as scale_actions does (binary ops: a Clip layer with tensor bounds does not serialize)
        actions = keras.ops.minimum(keras.ops.maximum(low + (unit_actions + 1.0) * 0.5 * (high - low), low), high)
        return actions, self.export_critic()([flat, unit_actions])

    def export_actions(self, normalized: Any) -> Any:
        """The deterministic actions in [-1, 1] as a Keras tensor of normalized observations."""
        return self.actor(normalized)

    def export_critic(self) -> keras.Model:
        """The Q-network exported beside the actions (TD3 and SAC: the first of the two)."""
        return self.critic  # type: ignore[attr-defined]  # DDPG's one critic; TD3 and SAC override

    def reference_outputs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What `greedy_outputs` must give for `obs`, through the compiled acting function."""
        normalized = self.normalizer(self.obs_tensor(obs))
        unit_actions = self.deterministic_actions(self.obs_tensor(obs))
        return {"actions": self(obs), "values": self.export_critic()([normalized, unit_actions]).numpy()}

    # ---- checkpoints ----------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """What rebuilds this agent: network, its kwargs, spaces, hyperparameters, plus run metadata."""
        return {
            "alg": self.alg,
            "network": self.network,
            "network_kwargs": self.network_kwargs,
            "precision": self.precision,
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "timesteps": self.timesteps,
            "hyperparameters": dataclasses.asdict(self.config),
            **self.run_metadata,
            "noise": self.noise_state(),
            "versions": library_versions(),
        }

    def save(self, path: str, extra_metadata: dict[str, Any] | None = None,
             extra_groups: dict[str, list[tuple[str, np.ndarray]]] | None = None) -> None:
        """Write every network, target and optimizer variable, the observation statistics, metadata and the extras
        atomically (never a pickle)."""
        groups = {name: [(getattr(variable, "path", variable.name), np.asarray(variable.numpy()))
                         for variable in variables]
                  for name, variables in self.variable_groups().items()}
        groups["obs_rms"] = self.normalizer.state()
        save_checkpoint(path, {**self.metadata(), **(extra_metadata or {})}, {**groups, **(extra_groups or {})})

    def load(self, path: str) -> dict[str, Any]:
        """Restore everything `save` wrote, after checking it is this algorithm's checkpoint for these spaces and
        network; CheckpointError (nothing changed) otherwise. What learn()'s arguments set (`argument_variables`)
        keeps the value given; a `redrawn_groups` group the checkpoint lacks is drawn anew."""
        metadata, groups = load_checkpoint(path)
        self.check_fits(metadata, path)
        variable_groups = {name: variables for name, variables in self.variable_groups().items()
                           if name in groups or name not in self.redrawn_groups}
        missing = sorted(set(variable_groups) - set(groups))
        if missing:
            raise CheckpointError(f"{path!r} lacks the {', '.join(missing)} weights of a {self.alg} agent")
        given = [(variable, variable.numpy()) for variable in self.argument_variables()]
        before = [(variable, variable.numpy()) for variables in variable_groups.values() for variable in variables]
        before_statistics, before_noise, before_timesteps = self.normalizer.state(), self.noise_state(), self.timesteps
        try:
            for name, variables in variable_groups.items():
                assign_checkpoint_arrays(variables, groups[name], path, name)
            self.set_acting_state(metadata, groups, path)
            try:
                self.set_noise_state(metadata.get("noise") or {})
            except (KeyError, TypeError, ValueError, OverflowError) as err:  # OverflowError: an RNG state's range
                raise CheckpointError(f"{path!r}: bad exploration noise state ({err})") from None
        except BaseException:
            for variable, value in before:
                variable.assign(value)
            self.normalizer.set_state([array for _, array in before_statistics])
            self.set_noise_state(before_noise)
            self.timesteps = before_timesteps
            raise
        for variable, value in given:
            variable.assign(value)
        if set(self.variable_groups()) - set(variable_groups):
            self.redraw_exploration()
        return metadata

    def argument_variables(self) -> list[tf.Variable]:
        """Variables whose value learn()'s arguments set, which loading a checkpoint leaves as they are: the
        optimizers' learning rates (a checkpoint's optimizer state holds the one it was trained with)."""
        return [variable for variables in self.variable_groups().values() for variable in variables
                if variable.name == "learning_rate"]

    def redraw_exploration(self) -> None:
        """Draw the `redrawn_groups` state anew, after a load that had none."""

    def load_weights_only(self, path: str) -> None:
        """Restore only what acts (actor and observation statistics)."""
        metadata, groups = load_checkpoint(path)
        assign_checkpoint_arrays(self.variable_groups()["policy"], groups.get("policy", []), path, "policy")
        self.set_acting_state(metadata, groups, path)

    def set_acting_state(self, metadata: Mapping[str, Any], groups: Mapping[str, list[np.ndarray]], path: str) -> None:
        """Observation statistics and step count from a checkpoint (the actor's weights are assigned apart)."""
        try:
            self.normalizer.set_state(groups.get("obs_rms", []))
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path!r}: bad observation statistics ({err})") from None
        self.timesteps = int(metadata.get("timesteps", 0))

    def check_fits(self, metadata: Mapping[str, Any], path: str) -> None:
        """CheckpointError unless `metadata` is this algorithm's, for these spaces, network and normalization."""
        if metadata.get("alg") != self.alg:
            raise CheckpointError(f"{path!r} is a {metadata.get('alg')!r} checkpoint, not a {self.alg} one")
        check_spaces_match(metadata, self.observation_space, self.action_space, path)
        check_network_matches(metadata, self.network, self.network_kwargs, path, with_builder_defaults)
        saved = (metadata.get("hyperparameters") or {}).get("normalize_observations")
        wanted = getattr(self.config, "normalize_observations", None)
        if saved is not None and wanted is not None and bool(saved) != bool(wanted):
            raise CheckpointError(f"{path!r} was trained with normalize_observations={bool(saved)}, and its actor "
                                  f"acts on observations normalized so (or not); give "
                                  f"normalize_observations={bool(saved)} to load it")


def agent_from_checkpoint(agent_class: type[OffPolicyAgent], config_class: type, metadata: Mapping[str, Any],
                          groups: Mapping[str, list[np.ndarray]], path: str) -> OffPolicyAgent:
    """An agent of `agent_class` rebuilt from a checkpoint's metadata, with its weights and observation statistics;
    built only once its actor's shapes are known to fit in the actor weights the checkpoint stores (the critics,
    targets and optimizer slots it builds too are as large, a few times over)."""
    try:
        observation_space = space_from_json(metadata["observation_space"])
        action_space = space_from_json(metadata["action_space"])
        network = metadata["network"]
        saved = metadata.get("hyperparameters") or {}
        names = {field.name for field in dataclasses.fields(config_class)}
        config = config_class(**{key: value for key, value in saved.items() if key in names})
        check_spaces(observation_space, action_space, agent_class.alg)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the {agent_class.alg} agent of {path!r}: {err}") from None
    network_kwargs = metadata.get("network_kwargs", {})
    obs_size, nb_actions = flat_observation_size(observation_space), int(np.prod(action_space.shape or ()))
    check_network_fits_checkpoint(
        lambda: [agent_class.actor_builder(obs_size, nb_actions, network, network_kwargs)], metadata, repr(path))
    try:
        agent = agent_class(observation_space, action_space, network, network_kwargs, config)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the {agent_class.alg} agent of {path!r}: {err}") from None
    # the actor acts; the other groups (critics, targets, optimizers) are assigned when present, so an exported
    # model's Q-values are the trained critic's
    for name, variables in agent.variable_groups().items():
        if name == "policy" or name in groups:
            assign_checkpoint_arrays(variables, list(groups.get(name, [])), path, name)
    agent.set_acting_state(metadata, groups, path)
    agent.run_metadata = {key: metadata[key] for key in ("env", "hyperparameters", "seed") if key in metadata}
    return agent

