"""The training loop PPO2 and A2C share: collect a rollout, update, log with baselines' keys, checkpoint."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.learner import OnPolicyLearner
from baselines_tf2.common.math_util import explained_variance
from baselines_tf2.common.policies import PolicyWithValue
from baselines_tf2.common.progress import TrainingProgress
from baselines_tf2.common.runner import Runner
from baselines_tf2.common.vec_env import VecEnv


@dataclass(frozen=True)
class LoopSettings:
    """How the loop runs; the learning hyperparameters live in each algorithm's config."""

    total_timesteps: int
    nsteps: int
    noptepochs: int
    nminibatches: int
    lr: Callable[[float], float]  # of the fraction of training remaining
    hyper: Callable[[float], float]  # the loss's annealed scalar (PPO2's clip range), same convention
    log_interval: int
    save_interval: int
    loss_prefix: str  # baselines' PPO2 logs 'loss/...' and 'misc/...'; its A2C logs bare names
    misc_prefix: str
    progress_bar: bool = False
    seed: int | None = None


def safe_mean(values: list[float] | deque[float]) -> float:
    """Mean, or NaN for no values (baselines' `safemean`)."""
    return float(np.mean(values)) if len(values) else float("nan")


def build_policy(env: VecEnv, network: Any, network_kwargs: dict[str, Any], precision: str) -> PolicyWithValue:
    """The actor-critic for `env`; `value_network` ('copy' or None) travels in network_kwargs, as in baselines."""
    value_network = network_kwargs.pop("value_network", None)
    return PolicyWithValue(
        env.observation_space, env.action_space, network, network_kwargs, value_network=value_network,
        nenvs=env.num_envs, precision=precision,
    )


def learn_on_policy(
    model: OnPolicyLearner,
    *,
    env: VecEnv,
    eval_env: VecEnv | None,
    settings: LoopSettings,
    gamma: float,
    lam: float,
    hyperparameters: dict[str, Any],
    load_path: str | None,
    callback: Callable[[dict[str, Any]], bool | None] | None,
) -> OnPolicyLearner:
    """Load `load_path` if given, then train (nothing when total_timesteps is 0) and return the model."""
    if load_path is not None:
        model.load(load_path)
    model.run_metadata = {"env": describe_vec_env(env), "hyperparameters": hyperparameters, "seed": settings.seed}
    if settings.total_timesteps <= 0:
        return model
    runner = Runner(env=env, model=model, nsteps=settings.nsteps, gamma=gamma, lam=lam)
    eval_runner = Runner(env=eval_env, model=model, nsteps=settings.nsteps, gamma=gamma, lam=lam) if eval_env else None
    start_timesteps = model.timesteps

    def save(path: str, done: int) -> None:
        model.timesteps = start_timesteps + done
        model.save(path)
        logger.log(f"saved checkpoint {path}")

    done = train_on_policy(model, runner, settings, save=save, eval_runner=eval_runner, callback=callback)
    model.timesteps = start_timesteps + done
    return model


def train_on_policy(
    learner: OnPolicyLearner,
    runner: Runner,
    settings: LoopSettings,
    *,
    save: Callable[[str, int], None],
    eval_runner: Runner | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> int:
    """Run updates until `total_timesteps` env steps are done; return the number of steps done.

    `save(path, timesteps)` writes a checkpoint; every `save_interval` updates one goes to
    `<log dir>/checkpoints/<update>` (baselines' layout). `callback(locals)` returning False stops training.
    """
    nenvs = runner.nenvs
    nbatch = nenvs * settings.nsteps
    nupdates = settings.total_timesteps // nbatch
    episode_returns: deque[float] = deque(maxlen=100)
    episode_lengths: deque[float] = deque(maxlen=100)
    eval_returns: deque[float] = deque(maxlen=100)
    rng = np.random.default_rng(settings.seed)
    progress = TrainingProgress(nupdates * nbatch, enabled=settings.progress_bar)
    first_start = time.perf_counter()
    update = 0
    try:
        for update in range(1, nupdates + 1):
            start = time.perf_counter()
            frac = 1.0 - (update - 1.0) / nupdates
            rollout = runner.run()
            if eval_runner is not None:
                eval_returns.extend(episode["r"] for episode in eval_runner.run().episodes)
            for episode in rollout.episodes:
                episode_returns.append(episode["r"])
                episode_lengths.append(episode["l"])
            stats = learner.update(
                rollout,
                lr=settings.lr(frac),
                hyper=settings.hyper(frac),
                noptepochs=settings.noptepochs,
                nminibatches=settings.nminibatches,
                rng=rng,
            )
            now = time.perf_counter()
            progress.update(nbatch, episode_returns)
            if update % settings.log_interval == 0 or update == 1:
                _log_update(settings, update, nbatch, nbatch / (now - start), now - first_start, rollout, stats,
                            episode_returns, episode_lengths, eval_returns if eval_runner is not None else None)
            if settings.save_interval and update % settings.save_interval == 0 and logger.get_dir():
                save(os.path.join(logger.get_dir(), "checkpoints", f"{update:05d}"), update * nbatch)
            if callback is not None and callback(locals()) is False:
                break
    finally:
        progress.close()
    return update * nbatch


def _log_update(
    settings: LoopSettings,
    update: int,
    nbatch: int,
    fps: float,
    elapsed: float,
    rollout: Any,
    stats: dict[str, float],
    episode_returns: deque[float],
    episode_lengths: deque[float],
    eval_returns: deque[float] | None,
) -> None:
    misc, loss = settings.misc_prefix, settings.loss_prefix
    logger.logkv(f"{misc}serial_timesteps", update * settings.nsteps)
    logger.logkv(f"{misc}nupdates", update)
    logger.logkv(f"{misc}total_timesteps", update * nbatch)
    logger.logkv("fps", int(fps))
    logger.logkv(f"{misc}explained_variance", explained_variance(rollout.values, rollout.returns))
    logger.logkv("eprewmean", safe_mean(episode_returns))
    logger.logkv("eplenmean", safe_mean(episode_lengths))
    if eval_returns is not None:
        logger.logkv("eval_eprewmean", safe_mean(eval_returns))
    logger.logkv(f"{misc}time_elapsed", elapsed)
    for name, value in stats.items():
        logger.logkv(f"{loss}{name}", value)
    logger.dumpkvs()
