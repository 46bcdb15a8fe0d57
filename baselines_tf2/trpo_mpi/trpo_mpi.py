"""TRPO `learn()`, with baselines' signature and defaults: collect -> GAE -> trust-region policy step -> value fit."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import gymnasium

from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.validation import (
    ArgumentError,
    require_choice,
    require_int,
    require_number,
    whole_floats_as_ints,
)
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.nn.models import is_recurrent_network
from baselines_tf2.nn.tf_util import PRECISIONS, rank_seed, set_global_seeds
from baselines_tf2.on_policy.loop import LogKeys, build_policy, learn_on_policy
from baselines_tf2.training.callbacks import UNBOUNDED_TIMESTEPS, bounded_callback
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES
from baselines_tf2.trpo_mpi.model import TRPOModel


@dataclasses.dataclass(frozen=True)
class TRPOConfig:
    """TRPO hyperparameters; names and defaults are baselines.trpo_mpi.learn's."""

    timesteps_per_batch: int = 1024  # env steps per env (and per MPI rank) per update
    max_kl: float = 0.001
    cg_iters: int = 10
    gamma: float = 0.99
    lam: float = 1.0
    entcoeff: float = 0.0
    cg_damping: float = 1e-2
    vf_stepsize: float = 3e-4
    vf_iters: int = 3
    max_episodes: int = 0  # stop after this many episodes (this process's), when > 0
    max_iters: int = 0  # stop after this many updates, when > 0
    log_interval: int = 1  # updates between log dumps (baselines logged every one)
    save_interval: int = 0  # updates between checkpoints under <log dir>/checkpoints; 0 = none
    precision: str = "float32"

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        require_choice("precision", self.precision, PRECISIONS)
        for name in ("timesteps_per_batch", "cg_iters", "vf_iters", "log_interval"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("max_episodes", "max_iters", "save_interval"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("gamma", "lam"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        for name in ("max_kl", "vf_stepsize"):
            require_number(name, getattr(self, name), above=0)
        for name in ("entcoeff", "cg_damping"):
            require_number(name, getattr(self, name), at_least=0)

    # the shared on-policy iteration's names for these settings
    @property
    def nsteps(self) -> int:
        return self.timesteps_per_batch

    @property
    def noptepochs(self) -> int:
        return self.vf_iters

    @property
    def nminibatches(self) -> int:
        return 1  # unused: TRPOModel fits the value function in minibatches of 64

    def lr_schedule(self) -> Callable[[float], float]:
        """The value function's constant Adam step size."""
        return lambda _frac: self.vf_stepsize


def learn(
    *,
    network: str | Callable[..., Any],
    env: VecEnv | gymnasium.Env,
    total_timesteps: int,
    timesteps_per_batch: int = 1024,
    max_kl: float = 0.001,
    cg_iters: int = 10,
    gamma: float = 0.99,
    lam: float = 1.0,
    seed: int | None = None,
    entcoeff: float = 0.0,
    cg_damping: float = 1e-2,
    vf_stepsize: float = 3e-4,
    vf_iters: int = 3,
    max_episodes: int = 0,
    max_iters: int = 0,
    callback: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None,
    load_path: str | None = None,
    log_interval: int = 1,
    save_interval: int = 0,
    progress_bar: bool = False,
    precision: str = "float32",
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    **network_kwargs: Any,
) -> TRPOModel:
    """Train a TRPO agent on `env`; return the model. At most one of `total_timesteps` (env steps over all envs
    and ranks), `max_iters` and `max_episodes` bounds the run, as in baselines.

    The policy and a separate value network ('copy', as baselines built it) share the `network` architecture;
    recurrent networks are refused. Each update collects `timesteps_per_batch` steps on every env, takes one
    natural-gradient step with KL(old || new) <= `max_kl` (TRPOModel), then `vf_iters` Adam passes of the value
    function. `callback(locals(), globals())` runs before each iteration (a truthy return stops). `load_path`,
    checkpoints, resume and MPI (gradients, Fisher-vector products and losses averaged over ranks) work as in
    ppo2.learn.
    """
    require_number("total_timesteps", total_timesteps)
    config = config_from_arguments(TRPOConfig, locals())
    venv: VecEnv = as_vec_env(env, rank_seed(seed, world().rank))  # baselines' took a single gym env
    if sum(bound > 0 for bound in (total_timesteps, max_iters, max_episodes)) > 1:
        raise ArgumentError("out of total_timesteps, max_iters and max_episodes only one should be given, got "
                            f"total_timesteps={total_timesteps}, max_iters={max_iters}, max_episodes={max_episodes}")
    if isinstance(network, str) and is_recurrent_network(network):
        raise ArgumentError(f"trpo_mpi takes feed-forward policies only (baselines' did not support recurrent ones), "
                            f"not {network!r}; use ppo2 or a2c for recurrent networks")
    if network_kwargs.setdefault("value_network", "copy") != "copy":
        raise ArgumentError(f"trpo_mpi trains a separate value network (value_network='copy'), got "
                            f"value_network={network_kwargs['value_network']!r}")
    seed_of_rank = set_global_seeds(seed, rank=world().rank, deterministic_ops=deterministic)
    policy = build_policy(venv, network, network_kwargs, precision, seed_of_rank)
    model = TRPOModel(policy, max_kl=max_kl, cg_iters=cg_iters, cg_damping=cg_damping, entcoeff=entcoeff)
    iteration_steps = timesteps_per_batch * venv.num_envs * world().size
    if max_iters:
        total_timesteps = max_iters * iteration_steps
    elif total_timesteps > 0:  # baselines trains until it has done at least total_timesteps: whole batches, rounded up
        total_timesteps = -(-total_timesteps // iteration_steps) * iteration_steps
    elif max_episodes:
        total_timesteps = UNBOUNDED_TIMESTEPS
        callback = bounded_callback(callback, max_episodes=max_episodes)
    learn_on_policy(model, config, run_options_from_arguments(locals(), seed=seed_of_rank), env=venv,
                    load_path=load_path, callback=callback, callback_globals=globals(),
                    log_keys=LogKeys(segment_keys=True))
    return model

