"""PPO2 `learn()`, with baselines' signature and defaults: collect -> GAE -> epochs of minibatches -> log -> save."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.schedules import FractionSchedule, as_fraction_schedule
from baselines_tf2.common.validation import (
    ArgumentError,
    require_choice,
    require_int,
    require_number,
    whole_floats_as_ints,
)
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.nn.tf_util import PRECISIONS, set_global_seeds
from baselines_tf2.on_policy.loop import LogKeys, build_policy, learn_on_policy
from baselines_tf2.ppo2.model import PPO2Model
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES


@dataclasses.dataclass(frozen=True)
class PPO2Config:
    """PPO2 hyperparameters; names and defaults are baselines.ppo2.learn's, so old kwargs keep working."""

    nsteps: int = 2048  # env steps per env per update
    ent_coef: float = 0.0
    lr: FractionSchedule = 3e-4  # float, or callable of the fraction of training remaining (1 -> 0)
    vf_coef: float = 0.5
    max_grad_norm: float | None = 0.5
    gamma: float = 0.99
    lam: float = 0.95
    log_interval: int = 10  # updates between log dumps
    nminibatches: int = 4
    noptepochs: int = 4
    cliprange: FractionSchedule = 0.2  # float, or callable of the fraction remaining
    save_interval: int = 0  # updates between checkpoints under <log dir>/checkpoints; 0 = none
    precision: str = "float32"  # or "mixed_bfloat16": bf16 compute, float32 weights (see docs/benchmarks.md)

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        require_choice("precision", self.precision, PRECISIONS)
        for name in ("nsteps", "nminibatches", "noptepochs", "log_interval"):
            require_int(name, getattr(self, name), minimum=1)
        require_int("save_interval", self.save_interval, minimum=0)
        for name in ("gamma", "lam"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        for name in ("ent_coef", "vf_coef"):
            require_number(name, getattr(self, name), at_least=0)
        if self.max_grad_norm is not None:
            require_number("max_grad_norm", self.max_grad_norm, above=0)
        for name in ("lr", "cliprange"):  # a number > 0, or a schedule: a callable of the fraction remaining
            value = getattr(self, name)
            as_fraction_schedule(value, name)
            if not callable(value):
                require_number(name, value, above=0)

    def lr_schedule(self) -> Callable[[float], float]:
        """The learning rate as a function of the fraction of training remaining."""
        return as_fraction_schedule(self.lr, "lr")

    def check_batch(self, nenvs: int, recurrent: bool) -> None:
        """Reject splits that would leave a remainder (or, for recurrent policies, cut an env's sequence)."""
        nbatch = self.nsteps * nenvs
        if nbatch % self.nminibatches:
            divisors = ", ".join(str(d) for d in range(1, nbatch + 1) if nbatch % d == 0)
            raise ArgumentError(
                f"nsteps * num_envs = {self.nsteps} * {nenvs} = {nbatch} is not divisible by nminibatches = "
                f"{self.nminibatches}; use a divisor of {nbatch} ({divisors}) or change nsteps or num_env"
            )
        if recurrent and nenvs % self.nminibatches:
            raise ArgumentError(
                f"recurrent policies split whole env sequences into minibatches: nminibatches = {self.nminibatches} "
                f"must divide the number of envs ({nenvs})"
            )


def learn(
    *,
    network: str | Callable[..., Any],
    env: VecEnv,
    total_timesteps: int,
    eval_env: VecEnv | None = None,
    seed: int | None = None,
    nsteps: int = 2048,
    ent_coef: float = 0.0,
    lr: FractionSchedule = 3e-4,
    vf_coef: float = 0.5,
    max_grad_norm: float | None = 0.5,
    gamma: float = 0.99,
    lam: float = 0.95,
    log_interval: int = 10,
    nminibatches: int = 4,
    noptepochs: int = 4,
    cliprange: FractionSchedule = 0.2,
    save_interval: int = 0,
    load_path: str | None = None,
    progress_bar: bool = False,
    precision: str = "float32",
    keep_checkpoints: int = 0,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
    **network_kwargs: Any,
) -> PPO2Model:
    """Train a PPO2 agent on `env` for `total_timesteps` env steps (summed over envs); return the model.

    `network` names a registered network ('mlp', 'cnn', 'lstm', ...) whose kwargs come in `network_kwargs`
    (plus `value_network='copy'` for a separate value torso). `load_path` (a checkpoint file, or a run or
    checkpoints folder: its `latest`) restores weights, optimizer and step count, and resumes an unfinished run
    with the same total_timesteps exactly where it stopped; with `total_timesteps=0` it just loads.
    Checkpoints go to <log dir>/checkpoints every `save_interval` updates, at the end and on SIGINT/SIGTERM
    (then TrainingInterrupted is raised), the newest `keep_checkpoints` kept (0, the default here, keeps all, as
    baselines' save_interval did; the command line keeps 5). Minibatch steps with a
    non-finite loss or gradient are skipped; `max_nonfinite_updates` in a row raise NonFiniteUpdateError.
    `deterministic` makes TensorFlow's ops deterministic (with `seed`, a run repeats bit for bit).
    `callback(locals())` returning False stops training early.
    Under `mpiexec -n N` each rank passes its own `env` (make_vec_env seeds each rank's envs apart) and seeds
    its generators with `seed + 1000 * rank`; gradients are averaged over ranks and `total_timesteps` counts
    every rank's steps (docs/distributed.md).
    """
    config = config_from_arguments(PPO2Config, locals())
    rank_seed = set_global_seeds(seed, rank=world().rank, deterministic_ops=deterministic)
    policy = build_policy(env, network, network_kwargs, precision, rank_seed)
    config.check_batch(env.num_envs, policy.recurrent)
    model = PPO2Model(policy, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm)
    clip_schedule = as_fraction_schedule(cliprange, "cliprange")
    learn_on_policy(
        model, config, run_options_from_arguments(locals(), seed=rank_seed), env=env, eval_env=eval_env,
        load_path=load_path, callback=callback, log_keys=LogKeys(loss_prefix="loss/", misc_prefix="misc/"),
        before_update=lambda frac: model.set_cliprange(clip_schedule(frac)),
    )
    return model
