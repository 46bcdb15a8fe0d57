"""DDPG `learn()` with baselines' signature and defaults, on the training core (and, unlike baselines, saved,
resumed and played like every other algorithm).

Each epoch cycle plays `nb_rollout_steps` steps on every env with the exploring actor, then makes
`nb_train_steps` updates (one compiled step each: critic, actor and Polyak targets) on batches of `batch_size`;
`nb_epoch_cycles` cycles make an epoch, the unit of baselines' log lines. Under `mpiexec -n N` the ranks train
data-parallel (see `ddpg_learner`), and a cycle counts the steps of all N ranks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import gymnasium

from baselines_tf2.common.mpi_util import world
from baselines_tf2.common.validation import ArgumentError, require_int, require_number, whole_floats_as_ints
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.dummy_vec_env import as_vec_env
from baselines_tf2.ddpg.ddpg_learner import DDPG
from baselines_tf2.ddpg.noise import parse_noise_type
from baselines_tf2.nn.tf_util import rank_seed
from baselines_tf2.off_policy.agent import agent_from_checkpoint
from baselines_tf2.off_policy.learn import learn_off_policy
from baselines_tf2.off_policy.loop import Schedule
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP
from baselines_tf2.training.config import config_from_arguments, run_options_from_arguments
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES

DEFAULT_EPOCHS = 500  # baselines: without total_timesteps, 500 epochs x 20 cycles x 100 steps = 1M steps per env


@dataclasses.dataclass(frozen=True)
class DDPGConfig:
    """DDPG hyperparameters; names and defaults are baselines.ddpg.learn's (plus the replay and checkpoint sizes)."""

    nb_epochs: int | None = None  # epochs to train when total_timesteps is not given
    nb_epoch_cycles: int = 20  # cycles per epoch (one log line per epoch)
    nb_rollout_steps: int = 100  # steps on each env per cycle
    reward_scale: float = 1.0  # rewards are stored multiplied by this
    render: bool = False
    render_eval: bool = False
    noise_type: str = "adaptive-param_0.2"  # 'none', 'normal_<s>', 'ou_<s>', 'adaptive-param_<s>', comma-separated
    normalize_returns: bool = False  # critic in normalized return units (statistics move with popart, as baselines)
    normalize_observations: bool = True  # running mean/std of observations, clipped to +-5
    critic_l2_reg: float = 1e-2  # L2 penalty on the critic's torso kernels
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    popart: bool = False  # Pop-Art rescaling of the critic's output (needs normalize_returns)
    gamma: float = 0.99
    clip_norm: float | None = None  # each variable's gradient clipped to this norm (baselines' flatgrad)
    nb_train_steps: int = 50  # updates per cycle
    nb_eval_steps: int = 100  # eval_env steps per cycle
    batch_size: int = 64
    tau: float = 0.01  # Polyak coefficient of the target networks
    param_noise_adaption_interval: int = 50  # updates between parameter-noise adaptations
    buffer_size: int = 1_000_000  # replay memory (baselines' Memory limit)
    checkpoint_freq: int = 50_000  # env steps between checkpoints in <log dir>/checkpoints
    save_replay: bool = False  # checkpoints also hold the replay memory, so a resumed run trains on at once
    precision: str = "float32"  # small MLPs: float32 only

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        if self.nb_epochs is not None:
            require_int("nb_epochs", self.nb_epochs, minimum=1)
        for name in ("nb_epoch_cycles", "nb_rollout_steps", "nb_train_steps", "batch_size",
                     "param_noise_adaption_interval", "buffer_size"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("nb_eval_steps", "checkpoint_freq"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("actor_lr", "critic_lr"):
            require_number(name, getattr(self, name), above=0)
        require_number("critic_l2_reg", self.critic_l2_reg, at_least=0)
        require_number("gamma", self.gamma, at_least=0, at_most=1)
        require_number("tau", self.tau, above=0, at_most=1)
        require_number("reward_scale", self.reward_scale, above=0)
        if self.clip_norm is not None:
            require_number("clip_norm", self.clip_norm, above=0)
        parse_noise_type(self.noise_type, 1)  # a malformed spec fails here, before anything is built
        if self.popart and not self.normalize_returns:
            raise ValueError("popart rescales the critic's normalized outputs; it needs normalize_returns=True")
        if self.render or self.render_eval:
            raise ValueError("render/render_eval are not supported while training; watch a saved model with "
                             "examples/play.py or record videos with --save_video_interval")
        if self.precision != "float32":
            raise ValueError(f"ddpg computes in float32 (its small networks gain nothing from bfloat16), got "
                             f"precision={self.precision!r}")


def learn(
    network: str,
    env: gymnasium.Env | VecEnv,
    seed: int | None = None,
    total_timesteps: int | None = None,
    nb_epochs: int | None = None,
    nb_epoch_cycles: int = 20,
    nb_rollout_steps: int = 100,
    reward_scale: float = 1.0,
    render: bool = False,
    render_eval: bool = False,
    noise_type: str = "adaptive-param_0.2",
    normalize_returns: bool = False,
    normalize_observations: bool = True,
    critic_l2_reg: float = 1e-2,
    actor_lr: float = 1e-4,
    critic_lr: float = 1e-3,
    popart: bool = False,
    gamma: float = 0.99,
    clip_norm: float | None = None,
    nb_train_steps: int = 50,
    nb_eval_steps: int = 100,
    batch_size: int = 64,
    tau: float = 0.01,
    eval_env: gymnasium.Env | VecEnv | None = None,
    param_noise_adaption_interval: int = 50,
    buffer_size: int = 1_000_000,
    checkpoint_freq: int = 50_000,
    save_replay: bool = False,
    load_path: str | None = None,
    callback: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
    precision: str = "float32",
    progress_bar: bool = False,
    keep_checkpoints: int = DEFAULT_KEEP,
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES,
    deterministic: bool = False,
    **network_kwargs: Any,
) -> DDPG:
    """Train DDPG on `env` (Box actions) and return the agent (`agent.save(path)`, `agent(obs)` acts).

    `total_timesteps` counts env steps over all envs and MPI ranks (baselines counted per env and rank); without
    it, `nb_epochs` epochs (default 500) are played. `network_kwargs` go to the actor's and the critic's torso
    (baselines: mlp, 2 x 64 tanh). With `eval_env`, `nb_eval_steps` deterministic steps are played on it after each
    cycle. `load_path` loads a saved agent, and resumes its run when the run is unfinished and has the same total
    steps (replay memory included with `save_replay`). `callback(locals(), globals())` returning True stops (as
    deepq's).

    Under `mpiexec -n N` each rank passes its own `env` and seeds its generators with `seed + 1000 * rank`; the
    ranks average their gradients and merge their observation statistics (docs/distributed.md).
    """
    config = config_from_arguments(DDPGConfig, locals())
    ranks = world()
    seed_of_rank = rank_seed(seed, ranks.rank)
    venv = as_vec_env(env, seed_of_rank)
    steps_per_cycle = nb_rollout_steps * venv.num_envs * ranks.size
    if total_timesteps is None:
        total_timesteps = (nb_epochs or DEFAULT_EPOCHS) * nb_epoch_cycles * steps_per_cycle
    elif nb_epochs is not None:
        raise ArgumentError("give total_timesteps (the command line's --num_timesteps) or nb_epochs, not both")
    else:
        require_number("total_timesteps", total_timesteps)
    schedule = Schedule(rollout_steps=nb_rollout_steps, train_steps=nb_train_steps, batch_size=batch_size,
                        learning_starts=batch_size, random_steps=0, log_every=nb_epoch_cycles,
                        checkpoint_every=checkpoint_freq, reward_scale=reward_scale,
                        learning_starts_option="batch_size")  # updates start once the memory holds a batch
    options = run_options_from_arguments(locals(), total_timesteps=max(0, math.ceil(total_timesteps)),
                                         seed=seed_of_rank)
    agent = learn_off_policy(lambda obs_space, action_space: DDPG(obs_space, action_space, network, network_kwargs,
                                                                  config, seed=seed_of_rank),
                             venv, config, schedule, options, load_path=load_path, eval_env=eval_env,
                             eval_steps=nb_eval_steps, callback=callback)
    assert isinstance(agent, DDPG)
    return agent


def policy_from_checkpoint(metadata: Any, groups: Any, path: str, *, nenvs: int = 1) -> DDPG:
    """The DDPG agent of a checkpoint, with its actor and observation statistics (registered in
    `baselines_tf2.algorithms`)."""
    agent = agent_from_checkpoint(DDPG, DDPGConfig, metadata, groups, path)
    assert isinstance(agent, DDPG)
    return agent
