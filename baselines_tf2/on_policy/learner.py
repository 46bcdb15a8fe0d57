"""The update step the on-policy learners share: minibatches of a rollout through one compiled gradient step.

PPO2 and A2C differ only in their loss, the optimizer, and how many epochs and minibatches they take; a loss that
needs an annealed scalar (PPO2's clip range) keeps it in a variable of its own, assigned before each update.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, Iterator, NamedTuple

import gymnasium
import keras
import numpy as np
import tensorflow as tf

from baselines_tf2.common.mpi_util import world
from baselines_tf2.nn.models import with_builder_defaults
from baselines_tf2.nn.policies import PolicyWithValue, action_dtype
from baselines_tf2.nn.tf_util import (
    CompiledFunction,
    apply_if_finite,
    assign_checkpoint_groups,
    assign_variables,
    flat_concat,
    flat_size,
    split_flat,
)
from baselines_tf2.on_policy.runner import ActingModel, Rollout
from baselines_tf2.on_policy.saving import policy_metadata, save_policy
from baselines_tf2.training.checkpoint import (
    CheckpointError,
    check_network_matches,
    check_spaces_match,
    load_checkpoint,
)
from baselines_tf2.training.nonfinite import NonFiniteGuard


class Minibatch(NamedTuple):
    """One minibatch; each field but `states` has leading dimension = minibatch size."""

    obs: tf.Tensor  # raw observations (uint8 for Atari)
    returns: tf.Tensor  # float32
    masks: tf.Tensor  # float32, episode starts (used by recurrent policies)
    actions: tf.Tensor
    values: tf.Tensor  # float32, V(s) when collected
    neglogpacs: tf.Tensor  # float32, -log pi_old(a|s)
    states: tf.Tensor  # float32 [envs in the minibatch, state_size]; [0, 0] for feed-forward policies


def minibatch_signature(policy: PolicyWithValue) -> Minibatch:
    """TensorSpecs of a Minibatch with a free batch dimension, so the train step traces once."""
    scalar_batch = tf.TensorSpec([None], tf.float32)
    obs_spec = policy.raw_obs_spec()
    action_space = policy.action_space
    action_shape = [] if isinstance(action_space, gymnasium.spaces.Discrete) else list(action_space.shape or ())
    return Minibatch(
        obs=obs_spec,
        returns=scalar_batch,
        masks=scalar_batch,
        actions=tf.TensorSpec([None, *action_shape], action_dtype(action_space)),
        values=scalar_batch,
        neglogpacs=scalar_batch,
        states=tf.TensorSpec([None, policy.state_size], tf.float32),
    )


class OnPolicyLearner(ABC):
    """A policy, its optimizer and a compiled `train_step(minibatch)`; subclasses define the loss.

    Annealed values are variables assigned between updates (the optimizer's learning rate, PPO2's clip range), so
    annealing them never retraces the step.

    Under MPI (`mpi_util.world()` has several ranks) every rank starts from rank 0's weights and each minibatch
    step applies the gradient averaged over the ranks' minibatches, so the ranks stay identical.
    """

    alg: str = ""  # the algorithm's name in checkpoints and the CLI
    loss_terms: type[NamedTuple]  # the NamedTuple of the loss terms `loss` reports

    def __init__(
        self,
        policy: PolicyWithValue,
        optimizer: keras.optimizers.Optimizer,
        *,
        ent_coef: float,
        vf_coef: float,
        max_grad_norm: float | None,
    ) -> None:
        self.policy = policy
        self.optimizer = optimizer
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.timesteps = 0  # env steps trained so far, over every learn() call that resumed this model
        self.run_metadata: dict[str, Any] = {}  # env description, hyperparameters, seed: written into checkpoints
        self.gradient_steps = 0  # minibatch steps taken (or skipped) by this model object
        self.world = world()
        self.variables = self.optimized_variables()
        self.optimizer.build(self.variables)
        self.train_step = CompiledFunction(self._train_step, [minibatch_signature(policy)])
        self.synchronize()

    def optimized_variables(self) -> list[tf.Variable]:
        """What the optimizer trains on the loss: the whole policy (TRPO: only the value function)."""
        return self.policy.trainable_variables

    @abstractmethod
    def loss(self, batch: Minibatch) -> tuple[tf.Tensor, NamedTuple]:
        """(total loss to minimise, the named terms to report)."""

    def _gradients(self, batch: Minibatch) -> tuple[list[tf.Tensor], tf.Tensor, NamedTuple]:
        with tf.GradientTape() as tape:
            total, terms = self.loss(batch)
        return tape.gradient(total, self.variables), total, terms

    def _apply(self, gradients: list[tf.Tensor], total: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.max_grad_norm is not None:
            gradients, grad_norm = tf.clip_by_global_norm(gradients, self.max_grad_norm)
        else:
            grad_norm = tf.linalg.global_norm(gradients)
        skipped = apply_if_finite(self.optimizer, gradients, self.variables, total, grad_norm)
        return {"loss": total, "grad_norm": grad_norm, "skipped": skipped}

    def _train_step(self, batch: Minibatch) -> dict[str, tf.Tensor]:
        gradients, total, terms = self._gradients(batch)
        return {**terms._asdict(), **self._apply(gradients, total)}

    @cached_property
    def local_gradient(self) -> CompiledFunction:
        """A minibatch -> the loss terms and `gradient`: every optimized variable's gradient, flattened
        and concatenated, then the loss (one float32 buffer, so ranks average both in one Allreduce)."""

        def local_gradient(batch: Minibatch) -> dict[str, tf.Tensor]:
            gradients, total, terms = self._gradients(batch)
            return {**terms._asdict(), "gradient": flat_concat([*gradients, total])}

        return CompiledFunction(local_gradient, [minibatch_signature(self.policy)])

    @cached_property
    def apply_gradient(self) -> CompiledFunction:
        """A `local_gradient` buffer (averaged over ranks) -> clipped and applied unless non-finite, as train_step."""
        shapes = [*(variable.shape for variable in self.variables), ()]  # the gradients, then the loss

        def apply_gradient(buffer: tf.Tensor) -> dict[str, tf.Tensor]:
            *gradients, total = split_flat(buffer, shapes)
            return self._apply(gradients, total)

        return CompiledFunction(apply_gradient, [tf.TensorSpec([flat_size(shapes)], tf.float32)])

    def averaged_step(self, batch: Minibatch) -> dict[str, tf.Tensor]:
        """train_step over all ranks: each rank's gradient and loss, averaged in one Allreduce, applied on every rank
        (so a non-finite average is skipped on all of them); the loss terms are this rank's."""
        result = self.local_gradient(batch)
        averaged = self.world.mean(result.pop("gradient").numpy())
        return {**result, **self.apply_gradient(tf.convert_to_tensor(averaged))}

    def synchronize(self) -> None:
        """Give every rank rank 0's weights and optimizer state (nothing to do with one rank)."""
        if self.world.size == 1:
            return
        self.policy.set_weights(self.world.broadcast([array for _, array in self.policy.get_weights()]))
        self.load_optimizer_state(self.world.broadcast([array for _, array in self.optimizer_state()]))

    def set_learning_rate(self, lr: float) -> None:
        """Assign the optimizer's learning-rate variable (same graph, no retrace)."""
        self.optimizer.learning_rate = float(lr)

    def update(
        self,
        rollout: Rollout,
        *,
        lr: float,
        noptepochs: int,
        nminibatches: int,
        rng: np.random.Generator,
        nonfinite: NonFiniteGuard | None = None,
    ) -> dict[str, float]:
        """`noptepochs` passes over the rollout in `nminibatches` shuffled minibatches; the mean of each loss term
        over the steps applied, and `nonfinite_skipped`: how many steps were skipped for a non-finite value
        (`nonfinite`, the run's guard, stops training after too many in a row).

        Under MPI every rank calls this with its own rollout of the same size, and each step averages gradients."""
        self.set_learning_rate(lr)
        nonfinite = nonfinite or NonFiniteGuard()
        epochs = [self.minibatch_indices(rng, rollout, nminibatches) for _ in range(noptepochs)]
        batches = [steps for epoch in epochs for steps, _envs in epoch]
        fused = (self.world.size == 1 and not self.policy.recurrent and len({len(steps) for steps in batches}) == 1)
        results = (self._fused_steps(rollout, np.stack(batches), nonfinite) if fused
                   else self._stepwise(rollout, [batch for epoch in epochs for batch in epoch]))
        totals: dict[str, float] = {}
        count = skipped = 0
        for values in results:
            self.gradient_steps += 1
            was_skipped = bool(values.pop("skipped"))
            nonfinite.record(was_skipped, self.gradient_steps,
                             {"loss": values["loss"], "gradient norm": values["grad_norm"]})
            if was_skipped:
                skipped += 1
                continue
            values.pop("loss")
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + value
            count += 1
        means = {name: total / count for name, total in totals.items()}
        return {**means, "nonfinite_skipped": float(skipped)}

    def _as_minibatch(self, rollout: Rollout, steps: np.ndarray | slice, envs: np.ndarray) -> Minibatch:
        """The rollout's `steps` (and recurrent `envs`) as tensors of the train step's dtypes."""
        return self.minibatch_of(rollout.obs[steps], rollout.returns[steps], rollout.masks[steps],
                                 rollout.actions[steps], rollout.values[steps], rollout.neglogpacs[steps],
                                 self._states_of(rollout, envs))

    def minibatch_of(self, *columns: Any) -> Minibatch:
        """Minibatch's fields, in its order, as tensors of the train step's dtypes."""
        signature = self.train_step.function.input_signature[0]
        return Minibatch(*(tf.convert_to_tensor(np.asarray(column).astype(spec.dtype.as_numpy_dtype, copy=False))
                           for column, spec in zip(columns, signature, strict=True)))

    def _stepwise(self, rollout: Rollout,
                  batches: list[tuple[np.ndarray, np.ndarray]]) -> Iterator[dict[str, float]]:
        """One call per minibatch (MPI averaging, recurrent sequences, uneven minibatches): each step's values."""
        step = self.train_step if self.world.size == 1 else self.averaged_step
        for steps, envs in batches:
            yield {name: float(value) for name, value in step(self._as_minibatch(rollout, steps, envs)).items()}

    def _fused_steps(self, rollout: Rollout, order: np.ndarray, nonfinite: NonFiniteGuard) -> list[dict[str, float]]:
        """Every minibatch step of the update in one compiled call (rows of `order` index the rollout); the steps
        stop where the guard would stop training, and each step's values come back for the same bookkeeping."""
        whole = self._as_minibatch(rollout, slice(None), np.zeros(0, np.int64))
        outputs = self.fused_train_steps(whole, tf.convert_to_tensor(order, tf.int32),
                                         tf.constant(nonfinite.consecutive, tf.int32),
                                         tf.constant(nonfinite.max_consecutive, tf.int32))
        columns = {name: value.numpy() for name, value in outputs.items()}
        return [{name: float(column[index]) for name, column in columns.items()}
                for index in range(len(columns["skipped"]))]

    @cached_property
    def fused_train_steps(self) -> CompiledFunction:
        """(the whole rollout, [steps, minibatch] indices, skips in a row so far, the guard's limit) -> each step's
        train_step values, stacked; the loop ends early once the skips in a row reach the limit."""
        signature = minibatch_signature(self.policy)
        names = list(self.train_step.concrete.structured_outputs)

        def fused_train_steps(rollout: Minibatch, order: tf.Tensor, consecutive: tf.Tensor,
                              limit: tf.Tensor) -> dict[str, tf.Tensor]:
            arrays = {name: tf.TensorArray(tf.float32, size=0, dynamic_size=True) for name in names}

            def keep_going(index: tf.Tensor, consecutive: tf.Tensor, _arrays: Any) -> tf.Tensor:
                return tf.logical_and(index < tf.shape(order)[0], consecutive < limit)

            def one_step(index: tf.Tensor, consecutive: tf.Tensor, arrays: Any) -> tuple[Any, ...]:
                rows = order[index]
                minibatch = rollout._replace(**{field: tf.gather(getattr(rollout, field), rows)
                                                for field in Minibatch._fields if field != "states"})
                values = self._train_step(minibatch)
                skipped = tf.cast(values["skipped"], tf.float32) > 0
                arrays = {name: arrays[name].write(index, tf.cast(values[name], tf.float32)) for name in names}
                return index + 1, tf.where(skipped, consecutive + 1, 0), arrays

            _index, _consecutive, arrays = tf.while_loop(keep_going, one_step, (tf.constant(0), consecutive, arrays))
            return {name: array.stack() for name, array in arrays.items()}

        scalar = tf.TensorSpec([], tf.int32)
        return CompiledFunction(fused_train_steps, [signature, tf.TensorSpec([None, None], tf.int32), scalar, scalar])

    def minibatch_indices(
        self, rng: np.random.Generator, rollout: Rollout, nminibatches: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """One epoch's (step indices, env indices) per minibatch: shuffled steps, or shuffled whole env sequences."""
        nbatch = len(rollout.returns)
        if not self.policy.recurrent:
            order = rng.permutation(nbatch)
            return [(chunk, np.zeros(0, np.int64)) for chunk in np.array_split(order, nminibatches)]
        assert rollout.states is not None  # a recurrent policy's rollout carries each env's start state
        nenvs = len(rollout.states)
        nsteps = nbatch // nenvs
        env_order = rng.permutation(nenvs)
        batches = []
        for envs in np.array_split(env_order, nminibatches):
            steps = (envs[:, None] * nsteps + np.arange(nsteps)[None, :]).ravel()
            batches.append((steps, envs))
        return batches

    def _states_of(self, rollout: Rollout, envs: np.ndarray) -> np.ndarray:
        if rollout.states is None:
            return np.zeros((0, 0), np.float32)
        return rollout.states[envs]

    def optimizer_state(self) -> list[tuple[str, np.ndarray]]:
        """The optimizer's variables (step count, moments) in order, for checkpoints."""
        return [(variable.path, np.asarray(variable.numpy())) for variable in self.optimizer.variables]

    def load_optimizer_state(self, arrays: list[np.ndarray]) -> None:
        """Restore `optimizer_state()`; a count or shape mismatch raises ValueError."""
        assign_variables(self.optimizer.variables, arrays, "optimizer")

    def metadata(self) -> dict[str, Any]:
        """What rebuilds this model (algorithm, network, spaces, precision) plus the run metadata and step count."""
        return {"alg": self.alg, **policy_metadata(self.policy), **self.run_metadata, "timesteps": self.timesteps}

    def save(self, path: str, extra_metadata: dict[str, Any] | None = None,
             extra_groups: dict[str, list[tuple[str, np.ndarray]]] | None = None) -> None:
        """Write a checkpoint (policy weights, optimizer and sampler state, metadata, the extras) atomically."""
        save_policy(
            path, self.policy, alg=self.alg,
            extra_metadata={**self.run_metadata, "timesteps": self.timesteps, **(extra_metadata or {})},
            extra_groups={"optimizer": self.optimizer_state(),
                          "sampler": [("state", np.asarray(self.policy.sampler.state.numpy()))],
                          **(extra_groups or {})},
        )

    def load_weights_only(self, path: str) -> None:
        """Restore only the policy's weights from a checkpoint of the same policy."""
        try:
            self.policy.set_weights(load_checkpoint(path)[1]["policy"])
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"{path!r} does not fit this model: {err}") from None
        self.synchronize()

    def load(self, path: str) -> dict[str, Any]:
        """Restore weights, optimizer and sampler state and the step count from a checkpoint of the same policy;
        its metadata. Under MPI every rank reads `path`; ranks > 0 keep their own action sampler's state (the
        checkpoint holds rank 0's), so they go on drawing other actions than rank 0."""
        metadata, groups = load_checkpoint(path)
        if metadata.get("alg") != self.alg:
            raise CheckpointError(f"{path!r} is a {metadata.get('alg')!r} checkpoint; this model is {self.alg!r}")
        check_spaces_match(metadata, self.policy.observation_space, self.policy.action_space, path)
        description = self.policy.description
        check_network_matches(metadata, description["network"], description["network_kwargs"], path,
                              with_builder_defaults)
        if metadata.get("value_network") != description["value_network"]:
            raise CheckpointError(f"{path!r} holds value_network {metadata.get('value_network')!r}, but this model "
                                  f"has {description['value_network']!r}")
        if "policy" not in groups:
            raise CheckpointError(f"{path!r} holds no policy weights")
        assignments = [(self.policy.net.weights, groups["policy"], "policy")]
        if "optimizer" in groups:
            assignments.append((self.optimizer.variables, groups["optimizer"], "optimizer"))
        if "sampler" in groups and self.world.rank == 0:
            assignments.append(([self.policy.sampler.state], groups["sampler"], "action sampler"))
        assign_checkpoint_groups(assignments, path)  # all or nothing
        self.synchronize()
        self.timesteps = int(metadata.get("timesteps", 0))
        return metadata

    @property
    def initial_state(self) -> np.ndarray | None:
        return self.policy.initial_state

    @property
    def act_model(self) -> PolicyWithValue:
        """baselines' `act_model` / `train_model` / `step_model`: here one policy acts and trains."""
        return self.policy

    train_model = step_model = act_model

    @property
    def loss_names(self) -> list[str]:
        """The names of the loss terms `train` returns, in order (baselines' `loss_names`)."""
        return list(self.loss_terms._fields)

    def train_on_arrays(self, lr: float, obs: Any, returns: Any, masks: Any, actions: Any, values: Any,
                        neglogpacs: Any, states: Any = None) -> list[float]:
        """One gradient step on one minibatch given as arrays, at learning rate `lr`; the loss terms in
        `loss_names` order (what baselines' `Model.train` did)."""
        state_rows = np.zeros((0, 0), np.float32) if states is None else states
        batch = self.minibatch_of(obs, returns, masks, actions, values, neglogpacs, state_rows)
        self.set_learning_rate(lr)
        step = self.train_step if self.world.size == 1 else self.averaged_step
        results = step(batch)
        self.gradient_steps += 1
        return [float(results[name]) for name in self.loss_terms._fields]

    def step(self, obs: Any, S: np.ndarray | None = None, M: np.ndarray | None = None) -> tuple[Any, ...]:
        """baselines' `model.step`: `(actions, values, states, neglogp)`."""
        return self.policy.step(obs, S=S, M=M)

    def value(self, obs: Any, S: np.ndarray | None = None, M: np.ndarray | None = None) -> np.ndarray:
        """baselines' `model.value`."""
        return self.policy.value(obs, S=S, M=M)

    def rollout_actor(self, steps: int, nenvs: int) -> ActingModel:
        """What acts for the next rollout of `steps` x `nenvs` (the policy, or a NumPy snapshot of it)."""
        return self.policy.rollout_actor(steps, nenvs)
