"""TRPO's update (Schulman et al. 2015, with GAE): a natural-gradient policy step inside a KL trust region, then the
value function fitted by Adam, on the shared on-policy learner.

The policy step follows baselines' trpo_mpi: the surrogate's gradient g, the step direction s = F^-1 g by conjugate
gradient on Fisher-vector products (double back-propagation of the mean KL, on every 5th sample, plus `cg_damping`
times the vector; F is never formed), the step scaled to KL = `max_kl` under the quadratic model, then a
backtracking line search that halves it until the surrogate improves and the measured KL is at most 1.5 `max_kl`
(10 tries, else the old weights stay). Gradients, Fisher-vector products and losses are compiled and, under MPI,
averaged over the ranks, so every rank takes the same step.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from baselines_tf2.common.cg import cg
from baselines_tf2.nn.distributions import make_pd
from baselines_tf2.nn.optimizers import FusedAdam
from baselines_tf2.nn.policies import PolicyWithValue, action_dtype
from baselines_tf2.nn.tf_util import CompiledFunction, flat_concat, split_flat
from baselines_tf2.on_policy.learner import Minibatch, OnPolicyLearner
from baselines_tf2.on_policy.runner import Rollout
from baselines_tf2.training.nonfinite import NonFiniteGuard

FVP_SUBSAMPLE = 5  # baselines' Fisher-vector products use every 5th sample of the batch
LINE_SEARCH_STEPS = 10  # halvings tried before the step is abandoned
KL_TOLERANCE = 1.5  # a step is accepted when its measured KL is at most this times max_kl
VF_BATCH_SIZE = 64  # baselines' value-function minibatch
POLICY_TERMS = ("optimgain", "meankl", "entloss", "surrgain", "entropy")  # baselines' names, logged as such


class ValueLoss(NamedTuple):
    """The value function's loss, as reported."""

    vf_loss: tf.Tensor


class LineSearchResult(NamedTuple):
    """Where the line search ended: the policy terms after the step and the fraction of the full step taken
    (0 when no step was acceptable or the gradient was zero)."""

    terms: np.ndarray
    step_fraction: float


class TRPOModel(OnPolicyLearner):
    """The policy (with a separate value network), Adam for the value function, and TRPO's policy step."""

    alg = "trpo_mpi"
    loss_terms = ValueLoss

    def __init__(self, policy: PolicyWithValue, *, max_kl: float, cg_iters: int, cg_damping: float,
                 entcoeff: float) -> None:
        if policy.recurrent:
            raise ValueError("trpo_mpi takes feed-forward policies only (baselines' did not support recurrent ones); "
                             "use ppo2 or a2c for lstm networks")
        value_torso = policy.net.value_torso
        if value_torso is None:
            raise ValueError("trpo_mpi needs value_network='copy': the trust region constrains the policy alone")
        self.max_kl = max_kl
        self.cg_iters = cg_iters
        self.cg_damping = cg_damping
        net = policy.net
        self.policy_variables = [*net.torso.trainable_variables, *net.pd_head.trainable_variables]
        self.value_variables = [*value_torso.trainable_variables, *net.value_head.trainable_variables]
        self.sizes = [int(np.prod(variable.shape)) for variable in self.policy_variables]
        # MpiAdam's defaults (beta1 0.9, beta2 0.999, epsilon 1e-8); the step size is set before each update
        super().__init__(policy, FusedAdam(learning_rate=3e-4, epsilon=1e-8), ent_coef=entcoeff, vf_coef=1.0,
                         max_grad_norm=None)

    # The compiled pieces are traced on first use: a model built only to load or play a checkpoint never pays for
    # them (the Fisher-vector product's double back-propagation takes seconds to trace).
    @cached_property
    def _signature(self) -> tuple[Any, ...]:
        """TensorSpecs of (observations, actions, a float batch, the distribution's parameters)."""
        obs_spec = self.policy.raw_obs_spec()
        params_spec = tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], tf.float32),
                                            self._params(tf.zeros([1, *obs_spec.shape[1:]], obs_spec.dtype)))
        space = self.policy.action_space
        actions = tf.TensorSpec([None, *(space.shape or ())], action_dtype(space))
        return obs_spec, actions, tf.TensorSpec([None], tf.float32), params_spec

    @cached_property
    def distribution(self) -> CompiledFunction:
        """Observations -> the policy's distribution parameters."""
        return CompiledFunction(self._params, [self._signature[0]])

    @cached_property
    def gain_and_gradient(self) -> CompiledFunction:
        """(obs, actions, advantages, old -log pi, old parameters) -> the policy terms, then optimgain's gradient."""
        obs, actions, scalars, params = self._signature
        return CompiledFunction(self._gain_and_gradient, [obs, actions, scalars, scalars, params])

    @cached_property
    def policy_terms(self) -> CompiledFunction:
        """(obs, actions, advantages, old -log pi, old parameters) -> the policy terms."""
        obs, actions, scalars, params = self._signature
        return CompiledFunction(self._policy_terms, [obs, actions, scalars, scalars, params])

    @cached_property
    def fisher_product(self) -> CompiledFunction:
        """(vector, obs, old parameters) -> the Fisher matrix times the vector."""
        obs, _actions, _scalars, params = self._signature
        return CompiledFunction(self._fisher_vector_product,
                                [tf.TensorSpec([sum(self.sizes)], tf.float32), obs, params])

    @cached_property
    def assign_flat(self) -> CompiledFunction:
        """A flat vector -> the policy's weights."""
        return CompiledFunction(self._assign_flat, [tf.TensorSpec([sum(self.sizes)], tf.float32)])

    def optimized_variables(self) -> list[tf.Variable]:
        """Adam fits the value function only; the policy moves by the natural-gradient step."""
        return self.value_variables

    def loss(self, batch: Minibatch) -> tuple[tf.Tensor, ValueLoss]:
        """baselines' vferr: the mean squared error of V(s) against the TD(lambda) returns."""
        _neglogp, _entropy, values = self.policy.evaluate(batch.obs, batch.actions)
        value_loss = tf.reduce_mean(tf.square(values - batch.returns))
        return value_loss, ValueLoss(value_loss)

    # ---- compiled pieces ---------------------------------------------------------------------------------

    def _params(self, obs: tf.Tensor) -> Any:
        """The policy's distribution parameters for raw observations, float32, one row per observation."""
        params, _values = self.policy.net(self.policy.encode(obs))
        return tf.nest.map_structure(lambda p: tf.cast(p, tf.float32), params)

    def _policy_terms(self, obs: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor, old_neglogp: tf.Tensor,
                      old_params: Any) -> tf.Tensor:
        """[optimgain, meankl, entloss, surrgain, entropy] of the current policy against the old one."""
        new_params = self._params(obs)
        new = make_pd(self.policy.action_space, new_params)
        # Schulman et al. 2015, eq. 14: advantages weighted by pi / pi_old estimate the new policy's gain
        surrgain = tf.reduce_mean(tf.exp(old_neglogp - new.neglogp(actions)) * advantages)
        meankl = self._mean_kl(old_params, new_params)
        entropy = tf.reduce_mean(new.entropy())
        entbonus = self.ent_coef * entropy
        return tf.stack([surrgain + entbonus, meankl, entbonus, surrgain, entropy])

    def _mean_kl(self, old_params: Any, new_params: Any) -> tf.Tensor:
        """Mean KL(old || new) over the batch (baselines' kloldnew), both given by their parameters."""
        old: Any = make_pd(self.policy.action_space, old_params)  # a Pd's kl takes a Pd of its own kind
        return tf.reduce_mean(old.kl(make_pd(self.policy.action_space, new_params)))

    def _flat(self, gradients: list[tf.Tensor | None]) -> tf.Tensor:
        """The policy variables' gradients as one float32 vector (zeros where a variable had no gradient)."""
        return flat_concat([tf.zeros([size]) if gradient is None else gradient
                            for gradient, size in zip(gradients, self.sizes)])

    def _gain_and_gradient(self, obs: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor, old_neglogp: tf.Tensor,
                           old_params: Any) -> tf.Tensor:
        """The policy terms followed by the flat gradient of optimgain (one buffer: one Allreduce under MPI)."""
        with tf.GradientTape() as tape:
            terms = self._policy_terms(obs, actions, advantages, old_neglogp, old_params)
            optimgain = terms[0]  # sliced under the tape, or the gradient would not reach the slice
        gradient = tape.gradient(optimgain, self.policy_variables)
        return tf.concat([terms, self._flat(gradient)], axis=0)

    def _fisher_vector_product(self, vector: tf.Tensor, obs: tf.Tensor, old_params: Any) -> tf.Tensor:
        """F v: the gradient of (grad KL(old || new) . v), at the current (= old) weights."""
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                meankl = self._mean_kl(old_params, self._params(obs))
            kl_gradient = self._flat(inner.gradient(meankl, self.policy_variables))
            gradient_dot_vector = tf.reduce_sum(kl_gradient * tf.stop_gradient(vector))
        return self._flat(outer.gradient(gradient_dot_vector, self.policy_variables))

    def _assign_flat(self, theta: tf.Tensor) -> tf.Tensor:
        """Set the policy's weights from one flat vector."""
        for variable, piece in zip(self.policy_variables, split_flat(theta, [v.shape for v in self.policy_variables])):
            variable.assign(tf.cast(piece, variable.dtype))
        return tf.constant(True)

    # ---- the update ----------------------------------------------------------------------------------------

    def flat_policy_weights(self) -> np.ndarray:
        """The policy's weights as one float32 vector (the value function's excluded)."""
        return np.concatenate([np.asarray(v.numpy(), np.float32).reshape(-1) for v in self.policy_variables])

    def _mean(self, values: np.ndarray) -> np.ndarray:
        """The mean over MPI ranks (the values themselves with one rank)."""
        return self.world.mean(np.asarray(values, np.float32))

    def policy_step(self, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray,
                    old_neglogp: np.ndarray) -> LineSearchResult:
        """One trust-region step of the policy on a batch (advantages already standardized)."""
        tensors = (tf.convert_to_tensor(obs), tf.convert_to_tensor(actions), tf.convert_to_tensor(advantages),
                   tf.convert_to_tensor(old_neglogp))
        old_params = self.distribution(tensors[0])
        subsampled = (tensors[0][::FVP_SUBSAMPLE], tf.nest.map_structure(lambda p: p[::FVP_SUBSAMPLE], old_params))
        buffer = self._mean(self.gain_and_gradient(*tensors, old_params).numpy())
        terms_before, gradient = buffer[:len(POLICY_TERMS)], buffer[len(POLICY_TERMS):]
        if np.allclose(gradient, 0):
            return LineSearchResult(terms_before, 0.0)

        def fisher_vector_product(vector: np.ndarray) -> np.ndarray:
            product = self.fisher_product(tf.convert_to_tensor(vector, tf.float32), *subsampled).numpy()
            # damping keeps F + damping * I positive definite where F is near-singular (baselines' trpo_mpi)
            return self._mean(product) + self.cg_damping * vector

        direction = cg(fisher_vector_product, gradient, cg_iters=self.cg_iters)
        curvature = 0.5 * direction.dot(fisher_vector_product(direction))
        if not (np.isfinite(direction).all() and np.isfinite(curvature) and curvature > 0):
            return LineSearchResult(terms_before, 0.0)
        full_step = direction / math.sqrt(curvature / self.max_kl)  # KL = max_kl under the quadratic model
        return self.line_search(full_step, terms_before,
                                lambda: self._mean(self.policy_terms(*tensors, old_params).numpy()))

    def line_search(self, full_step: np.ndarray, terms_before: np.ndarray,
                    evaluate: Any) -> LineSearchResult:
        """Try full_step, half of it, a quarter... (LINE_SEARCH_STEPS tries): keep the first whose terms are finite,
        whose KL is at most KL_TOLERANCE * max_kl and whose surrogate (optimgain) did not decrease; else restore."""
        before = self.flat_policy_weights()
        fraction = 1.0
        for _ in range(LINE_SEARCH_STEPS):
            self.assign_flat(tf.convert_to_tensor(before + fraction * full_step, tf.float32))
            terms = evaluate()
            if (np.isfinite(terms).all() and terms[1] <= KL_TOLERANCE * self.max_kl
                    and terms[0] - terms_before[0] >= 0):
                return LineSearchResult(terms, fraction)
            fraction *= 0.5
        self.assign_flat(tf.convert_to_tensor(before, tf.float32))
        return LineSearchResult(terms_before, 0.0)

    def update(self, rollout: Rollout, *, lr: float, noptepochs: int, nminibatches: int,
               rng: np.random.Generator, nonfinite: NonFiniteGuard | None = None) -> dict[str, float]:
        """The policy step on the whole rollout, then `noptepochs` (vf_iters) passes of Adam at step size `lr`
        (vf_stepsize) over minibatches of about 64 (`nminibatches` is ignored: the batch size decides)."""
        advantages = rollout.returns - rollout.values
        # baselines divides by the std alone; the 1e-8 only guards a batch of equal advantages
        advantages = ((advantages - advantages.mean()) / (advantages.std() + 1e-8)).astype(np.float32)
        signature = self.train_step.function.input_signature[0]
        obs = rollout.obs.astype(signature.obs.dtype.as_numpy_dtype, copy=False)
        actions = rollout.actions.astype(signature.actions.dtype.as_numpy_dtype, copy=False)
        result = self.policy_step(obs, actions, advantages, rollout.neglogpacs)
        value_stats = super().update(rollout, lr=lr, noptepochs=noptepochs,
                                     nminibatches=max(1, len(rollout.returns) // VF_BATCH_SIZE), rng=rng,
                                     nonfinite=nonfinite)
        return {**dict(zip(POLICY_TERMS, (float(term) for term in result.terms))),
                "step_fraction": result.step_fraction, **value_stats}
