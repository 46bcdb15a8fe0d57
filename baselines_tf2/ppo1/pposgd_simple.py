"""PPO1 `learn()` (baselines' ppo1.pposgd_simple): the original single-env, MPI-first PPO, on PPO2's model.

What differs from PPO2 is what baselines' PPO1 did: the advantages are standardized over the whole batch (not per
minibatch), the value loss is neither clipped nor halved (total = clipped surrogate - entcoeff * entropy + value
error), there is no gradient clipping, and `schedule='linear'` anneals both the Adam step size and the clip range
by 1 - steps / max_timesteps. The policy comes from `policy_fn(name, ob_space, ac_space)`, a `mlp_policy.MlpPolicy`
or `cnn_policy.CnnPolicy`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from typing import Any, Callable, NamedTuple

import gymnasium
import numpy as np
import tensorflow as tf

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import get_env_type, make_vec_env
from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.validation import require_choice, require_int, require_number, whole_floats_as_ints
from baselines_tf2.common.vec_env import VecEnv, VecNormalize
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.nn.tf_util import set_global_seeds
from baselines_tf2.on_policy.loop import LogKeys, learn_on_policy
from baselines_tf2.on_policy.runner import Rollout
from baselines_tf2.ppo1.mlp_policy import MIN_OBSERVATION_VARIANCE, OBSERVATION_CLIP, BasePolicy
from baselines_tf2.ppo2.model import PPO2Model, clipped_surrogate
from baselines_tf2.training.callbacks import UNBOUNDED_TIMESTEPS, bounded_callback
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES, NonFiniteGuard

SCHEDULES = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class PPO1Config:
    """PPO1 hyperparameters; names and defaults are baselines.ppo1.pposgd_simple.learn's (the first eight have
    none there either: run_mujoco.py and run_atari.py pass them)."""

    timesteps_per_actorbatch: int  # env steps per env (and per MPI rank) per update
    clip_param: float
    entcoeff: float
    optim_epochs: int
    optim_stepsize: float
    optim_batchsize: int  # 0: the whole batch in one minibatch (baselines: `optim_batchsize or batch size`)
    gamma: float
    lam: float
    max_timesteps: int = 0
    max_episodes: int = 0
    max_iters: int = 0
    max_seconds: float = 0
    adam_epsilon: float = 1e-5
    schedule: str = "constant"  # or 'linear': step size and clip range times 1 - steps / max_timesteps
    log_interval: int = 1
    save_interval: int = 0  # updates between checkpoints under <log dir>/checkpoints; 0 = none

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        require_choice("schedule", self.schedule, SCHEDULES)
        for name in ("timesteps_per_actorbatch", "optim_epochs", "log_interval"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("optim_batchsize", "max_timesteps", "max_episodes", "max_iters", "save_interval"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("gamma", "lam"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        for name in ("clip_param", "optim_stepsize", "adam_epsilon"):
            require_number(name, getattr(self, name), above=0)
        for name in ("entcoeff", "max_seconds"):
            require_number(name, getattr(self, name), at_least=0)
        bounds = [self.max_timesteps, self.max_episodes, self.max_iters, self.max_seconds]
        if sum(bound > 0 for bound in bounds) != 1:
            raise ValueError("give exactly one of max_timesteps, max_episodes, max_iters and max_seconds (baselines' "
                             f"'Only one time constraint permitted'), got {bounds}")
        if self.schedule == "linear" and not self.max_timesteps:
            raise ValueError("schedule='linear' anneals over max_timesteps, so it needs max_timesteps > 0")

    # the shared on-policy iteration's names for these settings
    @property
    def nsteps(self) -> int:
        return self.timesteps_per_actorbatch

    @property
    def noptepochs(self) -> int:
        return self.optim_epochs

    @property
    def nminibatches(self) -> int:
        return 1  # unused: PPO1Model cuts minibatches of optim_batchsize

    def multiplier(self) -> Callable[[float], float]:
        """baselines' lrmult as a function of the fraction of training remaining."""
        return (lambda frac: max(frac, 0.0)) if self.schedule == "linear" else (lambda _frac: 1.0)

    def lr_schedule(self) -> Callable[[float], float]:
        """The Adam step size: optim_stepsize times the schedule's multiplier."""
        multiplier = self.multiplier()
        return lambda frac: self.optim_stepsize * multiplier(frac)


class LossTerms(NamedTuple):
    """PPO1's loss terms under baselines' names (reported as loss_<name>); approxkl as PPO2 reports it."""

    pol_surr: tf.Tensor
    pol_entpen: tf.Tensor
    vf_loss: tf.Tensor
    approxkl: tf.Tensor
    ent: tf.Tensor


class PPO1Model(PPO2Model):
    """PPO2's model with PPO1's loss, whole-batch advantage standardization and minibatches of a fixed size."""

    alg = "ppo1"
    loss_terms = LossTerms

    def __init__(self, policy: BasePolicy, *, entcoeff: float, adam_epsilon: float, optim_batchsize: int) -> None:
        super().__init__(policy, ent_coef=entcoeff, vf_coef=1.0, max_grad_norm=None, adam_epsilon=adam_epsilon)
        self.optim_batchsize = optim_batchsize
        self.observation_filter: VecNormalize | None = None  # set by learn() when the policy filters observations

    def loss(self, batch: Any) -> tuple[tf.Tensor, LossTerms]:  # type: ignore[override]  # PPO1's own terms
        """clipped surrogate - entcoeff * entropy + mean squared value error, at the clip range last assigned."""
        neglogpac, entropy, vpred = self.policy.evaluate(batch.obs, batch.actions, batch.masks, batch.states)
        advantages = batch.returns - batch.values  # standardized over the whole batch by update()
        # L^CLIP (Schulman et al. 2017, eq. 7), negated to be minimized
        pol_surr, approxkl, _clipfrac = clipped_surrogate(neglogpac, batch.neglogpacs, advantages, self.cliprange)
        mean_entropy = tf.reduce_mean(entropy)
        pol_entpen = -self.ent_coef * mean_entropy
        vf_loss = tf.reduce_mean(tf.square(vpred - batch.returns))
        # eq. 9 with c1 = 1, as baselines' ppo1 total_loss: its vf_loss is neither clipped nor halved (ppo2's is)
        return pol_surr + pol_entpen + vf_loss, LossTerms(pol_surr, pol_entpen, vf_loss, approxkl, mean_entropy)

    def update(self, rollout: Rollout, *, lr: float, noptepochs: int, nminibatches: int,
               rng: np.random.Generator, nonfinite: NonFiniteGuard | None = None) -> dict[str, float]:
        """`noptepochs` passes in minibatches of `optim_batchsize` (`nminibatches` is ignored), the advantages
        standardized over the whole rollout first, as baselines' PPO1."""
        advantages = rollout.returns - rollout.values
        # baselines' ppo1 divides by the std alone; the 1e-8 only guards a batch of equal advantages
        standardized = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        # the loss reads advantages as returns - values: hand it values that make them the standardized ones
        rollout = rollout._replace(values=(rollout.returns - standardized).astype(np.float32))
        batch = self.optim_batchsize or len(rollout.returns)
        return super().update(rollout, lr=lr, noptepochs=noptepochs,
                              nminibatches=math.ceil(len(rollout.returns) / batch), rng=rng, nonfinite=nonfinite)

    def act(self, stochastic: bool, ob: Any) -> tuple[Any, float]:
        """baselines' `pi.act(stochastic, ob)` for one raw observation (filtered as in training): (action, value)."""
        if self.observation_filter is not None:
            ob = self.observation_filter.normalize_obs(np.asarray(ob, np.float32)[None])[0]
        return self.policy.act(stochastic, ob)  # type: ignore[attr-defined]  # a ppo1 BasePolicy


def learn(
    env: gymnasium.Env | VecEnv,
    policy_fn: Callable[[str, gymnasium.Space, gymnasium.Space], BasePolicy],
    *,
    timesteps_per_actorbatch: int,
    clip_param: float,
    entcoeff: float,
    optim_epochs: int,
    optim_stepsize: float,
    optim_batchsize: int,
    gamma: float,
    lam: float,
    max_timesteps: int = 0,
    max_episodes: int = 0,
    max_iters: int = 0,
    max_seconds: float = 0,
    callback: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None,
    adam_epsilon: float = 1e-5,
    schedule: str = "constant",
    seed: int | None = None,
    load_path: str | None = None,
    log_interval: int = 1,
    save_interval: int = 0,
    progress_bar: bool = False,
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
) -> PPO1Model:
    """Train PPO1 on `env` (a gymnasium env, or a VecEnv) with the policy `policy_fn("pi", ob_space, ac_space)`
    builds; exactly one of `max_timesteps`, `max_episodes`, `max_iters`, `max_seconds` ends the run.

    Returns the model: `model.act(stochastic, ob)` acts as baselines' returned `pi` did, `model.save(path)` writes a
    checkpoint (play, evaluate and export read it). An MlpPolicy's observation filter is a VecNormalize
    (observations only, +-5) in front of the env, its statistics saved with the model. `callback(locals(), globals())`
    runs before each iteration (a truthy return stops); under MPI gradients are averaged over ranks, as ppo2's.
    """
    config = config_from_arguments(PPO1Config, locals())
    rank_seed = set_global_seeds(seed, rank=world().rank, deterministic_ops=deterministic)
    venv = as_vec_env(env, rank_seed)
    policy = policy_fn("pi", venv.observation_space, venv.action_space)
    if not isinstance(policy, BasePolicy):
        raise TypeError(f"policy_fn must return a ppo1 MlpPolicy or CnnPolicy, got {type(policy).__name__}")
    observation_filter = None
    if policy.normalize_observations:  # built again on the filtered space, which checkpoints and play see
        venv = observation_filter = VecNormalize(venv, ob=True, ret=False, clipob=OBSERVATION_CLIP,
                                                 epsilon=MIN_OBSERVATION_VARIANCE)
        policy = policy_fn("pi", venv.observation_space, venv.action_space)
    model = PPO1Model(policy, entcoeff=entcoeff, adam_epsilon=adam_epsilon, optim_batchsize=optim_batchsize)
    model.observation_filter = observation_filter
    iteration_steps = timesteps_per_actorbatch * venv.num_envs * world().size
    # baselines trains until it has done at least max_timesteps: whole batches, rounded up
    total_timesteps = (-(-max_timesteps // iteration_steps) * iteration_steps or max_iters * iteration_steps
                       or UNBOUNDED_TIMESTEPS)
    callback = bounded_callback(callback, max_episodes=max_episodes, max_seconds=max_seconds)
    clip_multiplier = config.multiplier()
    learn_on_policy(model, config, run_options_from_arguments(locals(), seed=rank_seed), env=venv,
                    load_path=load_path, callback=callback, callback_globals=globals(),
                    log_keys=LogKeys(loss_prefix="loss_", segment_keys=True),
                    before_update=lambda frac: model.set_cliprange(clip_param * clip_multiplier(frac)))
    return model


def check_script_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, env_type: str | None = None
                           ) -> None:
    """Exit 2 with one line, before anything is built, if --num-timesteps is 0 or --env is unknown (or, given
    `env_type`, of another type): run_mujoco.py's and run_atari.py's usage errors."""
    if args.num_timesteps < 1:
        parser.error(f"--num-timesteps must be >= 1 (it bounds the run), got {args.num_timesteps}")
    try:
        found = get_env_type(args.env)
    except ValueError as err:
        parser.error(str(err))
    if env_type is not None and found != env_type:
        parser.error(f"--env={args.env} is not an {env_type} env (its env type is {found!r})")


def train_script_run(env_id: str, env_type: str, seed: int | None,
                     policy_fn: Callable[[str, gymnasium.Space, gymnasium.Space], BasePolicy],
                     **learn_kwargs: Any) -> PPO1Model:
    """What baselines' run_mujoco.py and run_atari.py do: `learn` on one monitored env of `env_id`, then (rank 0)
    save the model as <log dir>/model when a log dir is configured."""
    env = make_vec_env(env_id, env_type, 1, seed, force_dummy=True, monitor_dir=logger.get_dir())
    try:
        model = learn(env, policy_fn, seed=seed, progress_bar=True, **learn_kwargs)
    finally:
        env.close()
    log_dir = logger.get_dir()
    if log_dir and world().rank == 0:  # under mpiexec, one model: rank 0's
        model.save(os.path.join(log_dir, "model"))
    return model
