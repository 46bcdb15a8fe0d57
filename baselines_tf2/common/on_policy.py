"""The training loop PPO2 and A2C share: collect a rollout, update, log with baselines' keys, checkpoint.

Under MPI each rank runs this loop on its own envs in lockstep: batches, step counts, fps and episode statistics
count every rank, the ranks agree at each update on whether to stop, and only rank 0 writes checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.checkpoint import CHECKPOINTS_SUBDIR, CheckpointError, load_checkpoint
from baselines_tf2.common.checkpoint_dir import DEFAULT_KEEP, CheckpointDirectory
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.learner import OnPolicyLearner
from baselines_tf2.common.math_util import explained_variance
from baselines_tf2.common.mpi_util import DistributedEnvError, World
from baselines_tf2.common.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES, NonFiniteGuard
from baselines_tf2.common.policies import PolicyWithValue
from baselines_tf2.common.progress import TrainingProgress
from baselines_tf2.common.runner import Rollout, Runner
from baselines_tf2.common.stop_signals import StopRequest, TrainingInterrupted
from baselines_tf2.common.vec_env import VecEnv, VecNormalize
from baselines_tf2.common.vec_env.resume_state import capture_vec_env_state, restore_vec_env_state
from baselines_tf2.common.vec_env.vec_env import VecEnvError


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
    keep_checkpoints: int = DEFAULT_KEEP  # newest checkpoints kept in <log dir>/checkpoints; 0 keeps all
    deterministic: bool = False  # checkpoints also hold the envs' exact state (ResumableEnv) and the runner's
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES  # consecutive skipped steps before stopping


def build_policy(
    env: VecEnv, network: Any, network_kwargs: dict[str, Any], precision: str, seed: int | None = None
) -> PolicyWithValue:
    """The actor-critic for `env`; `value_network` ('copy' or None) travels in network_kwargs, as in baselines."""
    value_network = network_kwargs.pop("value_network", None)
    return PolicyWithValue(
        env.observation_space, env.action_space, network, network_kwargs, value_network=value_network,
        nenvs=env.num_envs, precision=precision, seed=seed,
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
    """Load `load_path` if given, then train (nothing when total_timesteps is 0) and return the model.

    A checkpoint written part-way through a run with the same total_timesteps resumes that run: the update count,
    learning-rate and clip-range schedules, shuffling RNG and VecNormalize statistics continue where they
    stopped (at the same step count if the batch changed, e.g. with another number of MPI ranks). Any other
    checkpoint starts a new schedule from its weights and optimizer.
    """
    nbatch = model.world.size * env.num_envs * settings.nsteps
    run = TrainingRun(model, env, settings, nbatch)
    if load_path is not None:
        run.restore(model.load(load_path), load_path)
    model.run_metadata = {"env": describe_vec_env(env), "hyperparameters": hyperparameters, "seed": settings.seed}
    if settings.total_timesteps <= 0:
        return model
    runner = Runner(env=env, model=model, nsteps=settings.nsteps, gamma=gamma, lam=lam)
    run.attach(runner)
    eval_runner = Runner(env=eval_env, model=model, nsteps=settings.nsteps, gamma=gamma, lam=lam) if eval_env else None
    train_on_policy(run, runner, eval_runner=eval_runner, callback=callback)
    return model


class TrainingRun:
    """Where a training run stands (update, RNG, timesteps) and how it checkpoints and resumes.

    `nbatch` is the env steps of one update over all MPI ranks; only rank 0 writes checkpoints."""

    def __init__(self, model: OnPolicyLearner, env: VecEnv, settings: LoopSettings, nbatch: int) -> None:
        self.model = model
        self.env = env
        self.settings = settings
        self.nbatch = nbatch
        self.world: World = model.world
        self.nupdates = settings.total_timesteps // nbatch
        self.update = 0  # updates done in this run
        self.rng = np.random.default_rng(settings.seed)  # minibatch shuffling
        self.timesteps_before = model.timesteps  # steps trained before this run started
        self.runner: Runner | None = None
        self._pending_env_state: tuple[dict[str, Any], list[np.ndarray]] | None = None  # (env state, runner arrays)
        self._pending_normalizer: tuple[dict[str, Any] | None, str] = (None, "")  # VecNormalize statistics, source
        model.nonfinite = NonFiniteGuard(settings.max_nonfinite_updates)
        log_dir = logger.get_dir()
        folder = os.path.join(log_dir, CHECKPOINTS_SUBDIR) if log_dir and self.world.rank == 0 else None
        self.checkpoints = CheckpointDirectory(folder, settings.keep_checkpoints) if folder else None

    def restore(self, metadata: dict[str, Any], path: str) -> None:
        """Continue the run a checkpoint came from, if it is this one (same total steps) and unfinished.

        With another batch (another number of MPI ranks or envs) the run goes on from the update of this batch
        that has done at most the checkpoint's steps, so the schedules continue at (nearly) the same point."""
        state = metadata.get("training") or {}
        same_run = state.get("total_timesteps") == self.settings.total_timesteps
        saved_nbatch = int(state.get("nbatch", 0))
        update = int(state.get("update", 0)) * saved_nbatch // self.nbatch if same_run else 0
        if not 0 < update < self.nupdates:
            self.timesteps_before = self.model.timesteps
            logger.log(f"loaded {path} ({self.model.timesteps} steps trained); training a new schedule")
            return
        self.update = update
        self.timesteps_before = self.model.timesteps - update * self.nbatch
        try:
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path!r}: its shuffling RNG state cannot be restored ({err})") from None
        self._pending_normalizer = (metadata.get("vec_normalize"), path)
        if self.settings.deterministic and "env_state" in metadata and saved_nbatch == self.nbatch:
            self._pending_env_state = (metadata["env_state"], load_checkpoint(path)[1].get("runner", []))
        batch = "" if saved_nbatch == self.nbatch else (
            f" (its batch was {saved_nbatch} steps, this run's is {self.nbatch}: continuing from step "
            f"{update * self.nbatch} of its {state['update'] * saved_nbatch})")
        logger.log(f"resuming {path} at update {update}/{self.nupdates}{batch}: schedules, RNG and statistics continue"
                   + (", envs replayed to their saved state" if self._pending_env_state else ""))

    def attach(self, runner: Runner) -> None:
        """Use `runner` for checkpoints; on an exact resume, bring it and its envs to the saved state."""
        self.runner = runner
        normalizer = find_vec_normalize(self.env)
        statistics, path = self._pending_normalizer
        if normalizer is not None and statistics is not None:  # after the runner's reset, which updates them
            normalizer.load_state_dict(statistics, source=path)
        if self._pending_env_state is None:
            return
        env_state, (obs, dones, states) = self._pending_env_state
        restore_vec_env_state(self.env, env_state, obs)
        runner.obs, runner.dones = obs, dones
        runner.states = states if runner.states is not None else None
        self._pending_env_state = None

    def save(self, with_env_state: bool = True) -> str | None:
        """Checkpoint the state after the last completed update into <log dir>/checkpoints; its path (None on
        ranks > 0, which write nothing).

        Deterministic single-process runs also save the envs' exact state and the runner's last observation
        (`with_env_state`); under MPI the other ranks' envs are not saved, so no env state is."""
        if self.checkpoints is None:
            return None
        self.model.timesteps = self.timesteps_before + self.update * self.nbatch
        self.model.run_metadata["training"] = {
            "total_timesteps": self.settings.total_timesteps, "nbatch": self.nbatch, "update": self.update,
            "rng": self.rng.bit_generator.state,
        }
        normalizer = find_vec_normalize(self.env)
        if normalizer is not None:
            self.model.run_metadata["vec_normalize"] = normalizer.state_dict()
        groups: dict[str, list[tuple[str, np.ndarray]]] = {}
        self.model.run_metadata.pop("env_state", None)
        if self.settings.deterministic and self.runner is not None and with_env_state and self.world.size == 1:
            self.model.run_metadata["env_state"] = capture_vec_env_state(self.env)
            states = self.runner.states if self.runner.states is not None else np.zeros((0, 0), np.float32)
            groups["runner"] = [("obs", self.runner.obs), ("dones", self.runner.dones), ("states", states)]
        path = self.checkpoints.save(self.update, lambda target: self.model.save(target, extra_groups=groups))
        logger.log(f"saved checkpoint {path}")
        return path


def train_on_policy(
    run: TrainingRun,
    runner: Runner,
    *,
    eval_runner: Runner | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> None:
    """Run updates until `total_timesteps` env steps are done (or a callback returns False, or a signal).

    Every `save_interval` updates, at the end, on SIGINT/SIGTERM and before an env fault is re-raised, a
    checkpoint goes to <log dir>/checkpoints (baselines' layout, plus a `latest` pointer). A signal ends
    with TrainingInterrupted after the checkpoint is written. Under MPI, a signal, a callback's False or an env
    fault on any rank stops every rank at the same update.
    """
    settings, learner, nbatch, world = run.settings, run.model, run.nbatch, run.world
    episode_returns: deque[float] = deque(maxlen=100)
    episode_lengths: deque[float] = deque(maxlen=100)
    eval_returns: deque[float] = deque(maxlen=100)
    progress = TrainingProgress((run.nupdates - run.update) * nbatch, enabled=settings.progress_bar and world.rank == 0)
    first_start = time.perf_counter()
    skipped_total = 0
    with StopRequest() as stop, contextlib.closing(progress):
        try:
            while run.update < run.nupdates and not any(world.gather(stop.requested)):
                start = time.perf_counter()
                update = run.update + 1
                frac = 1.0 - (update - 1.0) / run.nupdates
                # A signal mid-rollout drops the rollout and saves the last completed update, except in deterministic
                # runs, whose checkpoints hold the envs' state: there the rollout and its update complete first.
                collected = _collect(runner, eval_runner, None if settings.deterministic else stop, world)
                if collected is None:
                    break
                rollout, evaluation = collected
                eval_returns.extend(evaluation)
                for episode in rollout.episodes:
                    episode_returns.append(episode["r"])
                    episode_lengths.append(episode["l"])
                stats = learner.update(
                    rollout, lr=settings.lr(frac), hyper=settings.hyper(frac), noptepochs=settings.noptepochs,
                    nminibatches=settings.nminibatches, rng=run.rng,
                )
                run.update = update
                skipped_total += int(stats.pop("nonfinite_skipped"))
                now = time.perf_counter()
                progress.update(nbatch, episode_returns)
                if update % settings.log_interval == 0 or update == 1:
                    _log_update(settings, world, update, nbatch, nbatch / (now - start), now - first_start, rollout,
                                stats, skipped_total, getattr(run.env, "restarts", 0), episode_returns,
                                episode_lengths,
                                eval_returns if eval_runner is not None else None)
                if settings.save_interval and update % settings.save_interval == 0:
                    run.save()
                if callback is not None and any(world.gather(callback(locals()) is False)):
                    break
        except VecEnvError:  # the VecEnv is closed now: save without its state
            if stop.signum is not None:  # the workers went down with the same signal: a stop, not a fault
                raise TrainingInterrupted(stop.signum, run.save(with_env_state=False)) from None
            saved = run.save(with_env_state=False)
            if saved:
                logger.log(f"an env failed; the state after update {run.update} is in {saved}")
            raise
    signum = max(world.gather(stop.signum or 0))  # ranks the signal did not reach stop with the others
    if signum:
        raise TrainingInterrupted(signum, run.save())
    if run.update == run.nupdates and not (settings.save_interval and run.update % settings.save_interval == 0):
        run.save()
    learner.timesteps = run.timesteps_before + run.update * nbatch


_COLLECTED, _STOPPED, _FAILED = 0, 1, 2  # how a rank's collection ended


def _collect(
    runner: Runner, eval_runner: Runner | None, stop: StopRequest | None, world: World
) -> tuple[Rollout, list[float]] | None:
    """(rollout, evaluation episodes' returns) on every rank, or None on every rank if a signal cut a rank's
    rollout short. An env fault raises: with one rank its own error, under MPI DistributedEnvError on every rank."""
    collected = failure = None
    try:
        rollout = runner.run(stop)
        if rollout is not None:
            evaluation = [episode["r"] for episode in eval_runner.run().episodes] if eval_runner is not None else []
            collected = (rollout, evaluation)
    except VecEnvError as error:
        if world.size == 1:
            raise
        failure = error
    statuses = world.gather(_FAILED if failure is not None else _STOPPED if collected is None else _COLLECTED)
    failed = [rank for rank, status in enumerate(statuses) if status == _FAILED]
    if failed:
        raise DistributedEnvError(failed, failure) from failure
    return collected if max(statuses) == _COLLECTED else None


def find_vec_normalize(env: VecEnv) -> VecNormalize | None:
    """The VecNormalize in `env`'s wrapper chain, if any (its statistics belong in checkpoints)."""
    while env is not None:
        if isinstance(env, VecNormalize):
            return env
        env = getattr(env, "venv", None)
    return None


def _log_update(
    settings: LoopSettings,
    world: World,
    update: int,
    nbatch: int,
    fps: float,
    elapsed: float,
    rollout: Any,
    stats: dict[str, float],
    skipped_total: int,
    env_restarts: int,
    episode_returns: deque[float],
    episode_lengths: deque[float],
    eval_returns: deque[float] | None,
) -> None:
    """Rank 0 logs; every rank must call this, since episode statistics, loss terms and env restarts are summed
    over ranks (episode means over every rank's recent episodes, loss terms averaged over ranks)."""
    episodes = {"eprewmean": episode_returns, "eplenmean": episode_lengths}
    if eval_returns is not None:
        episodes["eval_eprewmean"] = eval_returns
    local = [quantity for values in episodes.values() for quantity in (float(np.sum(values)), len(values))]
    totals = world.sum(np.array([*local, *stats.values(), env_restarts], np.float64))
    if world.rank != 0:
        return
    misc, loss = settings.misc_prefix, settings.loss_prefix
    logger.logkv(f"{misc}serial_timesteps", update * settings.nsteps)
    logger.logkv(f"{misc}nupdates", update)
    logger.logkv(f"{misc}total_timesteps", update * nbatch)
    logger.logkv("fps", int(fps))
    logger.logkv(f"{misc}explained_variance", explained_variance(rollout.values, rollout.returns))
    for index, name in enumerate(episodes):
        episodes_sum, count = totals[2 * index], totals[2 * index + 1]
        logger.logkv(name, episodes_sum / count if count else float("nan"))
    logger.logkv(f"{misc}time_elapsed", elapsed)
    logger.logkv(f"{misc}nonfinite_updates_skipped", skipped_total)
    logger.logkv(f"{misc}env_restarts", int(totals[-1]))
    for index, name in enumerate(stats):
        logger.logkv(f"{loss}{name}", totals[len(local) + index] / world.size)
    logger.dumpkvs()
