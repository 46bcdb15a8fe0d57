"""A2C `learn()`, with baselines' signature and defaults: n-step returns, one RMSprop update per rollout."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

from baselines_tf2.a2c.model import A2CModel
from baselines_tf2.a2c.utils import schedules
from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.validation import require_choice, require_int, require_number, whole_floats_as_ints
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.nn.tf_util import PRECISIONS, set_global_seeds
from baselines_tf2.on_policy.loop import build_policy, learn_on_policy
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES


@dataclasses.dataclass(frozen=True)
class LrSchedule:
    """`lr` times baselines' named schedule, as a function of the fraction of training remaining."""

    lr: float
    name: str

    def __call__(self, frac_remaining: float) -> float:
        return self.lr * schedules[self.name](1.0 - frac_remaining)


@dataclasses.dataclass(frozen=True)
class A2CConfig:
    """A2C hyperparameters; names and defaults are baselines.a2c.learn's."""

    nsteps: int = 5
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float | None = 0.5
    lr: float = 7e-4
    lrschedule: str = "linear"
    epsilon: float = 1e-5
    alpha: float = 0.99
    gamma: float = 0.99
    log_interval: int = 100
    save_interval: int = 0  # updates between checkpoints under <log dir>/checkpoints; 0 = none
    precision: str = "float32"  # or "mixed_bfloat16": bf16 compute, float32 weights

    # baselines' A2C as the on-policy iteration sees it: n-step returns (GAE with lambda = 1), one pass, one batch
    lam: ClassVar[float] = 1.0
    noptepochs: ClassVar[int] = 1
    nminibatches: ClassVar[int] = 1

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        require_choice("precision", self.precision, PRECISIONS)
        for name in ("nsteps", "log_interval"):
            require_int(name, getattr(self, name), minimum=1)
        require_int("save_interval", self.save_interval, minimum=0)
        require_choice("lrschedule", self.lrschedule, sorted(schedules))
        for name in ("lr", "epsilon"):
            require_number(name, getattr(self, name), above=0)
        for name in ("ent_coef", "vf_coef"):
            require_number(name, getattr(self, name), at_least=0)
        if self.max_grad_norm is not None:
            require_number("max_grad_norm", self.max_grad_norm, above=0)
        require_number("gamma", self.gamma, at_least=0, at_most=1)
        require_number("alpha", self.alpha, at_least=0, below=1)  # RMSprop's decay: 1 would never update the average

    def lr_schedule(self) -> Callable[[float], float]:
        """`lr` times baselines' named `lrschedule`, as a function of the fraction of training remaining."""
        return LrSchedule(self.lr, self.lrschedule)


def learn(
    network: str | Callable[..., Any],
    env: VecEnv,
    seed: int | None = None,
    nsteps: int = 5,
    total_timesteps: int = int(80e6),
    vf_coef: float = 0.5,
    ent_coef: float = 0.01,
    max_grad_norm: float | None = 0.5,
    lr: float = 7e-4,
    lrschedule: str = "linear",
    epsilon: float = 1e-5,
    alpha: float = 0.99,
    gamma: float = 0.99,
    log_interval: int = 100,
    load_path: str | None = None,
    save_interval: int = 0,
    progress_bar: bool = False,
    precision: str = "float32",
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
    **network_kwargs: Any,
) -> A2CModel:
    """Train an A2C agent on `env` for `total_timesteps` env steps (summed over envs); return the model.

    Returns are n-step discounted returns bootstrapped from V (GAE with lambda = 1); `lrschedule` is one of
    baselines' names. `load_path`, `save_interval`, `callback` and MPI runs work as in ppo2.learn.
    """
    config = config_from_arguments(A2CConfig, locals())
    rank_seed = set_global_seeds(seed, rank=world().rank, deterministic_ops=deterministic)
    policy = build_policy(env, network, network_kwargs, precision, rank_seed)
    model = A2CModel(
        policy, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, alpha=alpha, epsilon=epsilon
    )
    learn_on_policy(model, config, run_options_from_arguments(locals(), seed=rank_seed), env=env,
                    load_path=load_path, callback=callback)
    return model
