"""The iteration PPO2 and A2C share on the training core: collect a rollout, update, log with baselines' keys.

Everything else (resume, checkpoints, signals, env faults, progress) is the core's `TrainingRun`. Under MPI each
rank runs this iteration on its own envs in lockstep: batches, step counts, fps and episode statistics count every
rank, and the ranks agree on whether a rollout was cut short or an env failed.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any, Callable, ClassVar, Protocol

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.math_util import explained_variance
from baselines_tf2.common.mpi_util import DistributedEnvError, World
from baselines_tf2.common.validation import ArgumentError
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.vec_env import VecEnvError
from baselines_tf2.nn.models import as_network_fn
from baselines_tf2.nn.policies import PolicyWithValue
from baselines_tf2.on_policy.learner import OnPolicyLearner
from baselines_tf2.on_policy.runner import Rollout, Runner
from baselines_tf2.training.callbacks import after_update_callback, before_step_callback
from baselines_tf2.training.run import Algorithm, RunOptions, TrainingRun, restore_vec_normalize
from baselines_tf2.training.stop_signals import StopRequest


class OnPolicyConfig(Protocol):
    """The config fields the shared iteration reads (PPO2Config has them all; A2CConfig fixes lam, noptepochs and
    nminibatches to baselines' A2C: n-step returns, one pass, one minibatch)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # a dataclass: its fields go into checkpoints' metadata

    @property
    def nsteps(self) -> int: ...
    @property
    def gamma(self) -> float: ...
    @property
    def lam(self) -> float: ...
    @property
    def noptepochs(self) -> int: ...
    @property
    def nminibatches(self) -> int: ...
    @property
    def log_interval(self) -> int: ...
    @property
    def save_interval(self) -> int: ...

    def lr_schedule(self) -> Callable[[float], float]:
        """The learning rate as a function of the fraction of training remaining."""


@dataclasses.dataclass(frozen=True)
class LogKeys:
    """baselines' PPO2 logs 'loss/...' and 'misc/...'; its A2C logs bare names; trpo_mpi and ppo1 also logged
    EpRewMean, EpLenMean, EpThisIter, EpisodesSoFar, TimestepsSoFar, TimeElapsed and ev_tdlam_before."""

    loss_prefix: str = ""
    misc_prefix: str = ""
    segment_keys: bool = False  # also trpo_mpi's and ppo1's keys, so their users' plotting scripts find them


def build_policy(
    env: VecEnv, network: Any, network_kwargs: dict[str, Any], precision: str, seed: int | None = None
) -> PolicyWithValue:
    """The actor-critic for `env`; `value_network` ('copy' or None) travels in network_kwargs, as in baselines.

    `network` is a registered name or a network_fn in any form `as_network_fn` reads (baselines' included).
    baselines' `normalize_observations=True` (in-graph observation statistics) is refused, naming VecNormalize."""
    if not hasattr(env, "num_envs"):
        raise ArgumentError(f"env must be a VecEnv (as baselines' ppo2 and a2c required), got {type(env).__name__}; "
                            "wrap a single env: DummyVecEnv([lambda: env])")
    if network_kwargs.pop("normalize_observations", False):
        raise ArgumentError("normalize_observations=True (baselines' in-graph observation normalization) is not "
                            "supported; wrap the env in VecNormalize(venv, ret=False) for normalized observations")
    value_network = network_kwargs.pop("value_network", None)
    if not isinstance(network, str) and callable(network):
        network = as_network_fn(network)
    return PolicyWithValue(
        env.observation_space, env.action_space, network, network_kwargs, value_network=value_network,
        nenvs=env.num_envs, precision=precision, seed=seed,
    )


def learn_on_policy(
    model: OnPolicyLearner,
    config: OnPolicyConfig,
    options: RunOptions,
    *,
    env: VecEnv,
    eval_env: VecEnv | None = None,
    load_path: str | None = None,
    callback: Callable[..., Any] | None = None,
    log_keys: LogKeys = LogKeys(),
    before_update: Callable[[float], None] | None = None,
    callback_globals: dict[str, Any] | None = None,
) -> OnPolicyLearner:
    """Load `load_path` if given, then train on the core (nothing when total_timesteps is 0); return the model.

    A checkpoint of an unfinished run with the same total_timesteps resumes it (update count, schedules, shuffling
    RNG, VecNormalize statistics); any other starts a new schedule from its weights and optimizer.
    `before_update(frac)` sets what the loss anneals besides the learning rate (PPO2's clip range).
    `callback` follows ppo2's convention (`callback(locals())` after each update, False stops), or with
    `callback_globals` trpo_mpi's (`callback(locals(), globals())` before each iteration, a truthy return stops).
    """
    if load_path is not None:
        model.load(load_path)
        if options.total_timesteps <= 0:  # a training run restores them after its first reset
            restore_vec_normalize(env, load_path)
    model.run_metadata = {"env": describe_vec_env(env), "hyperparameters": dataclasses.asdict(config),
                          "seed": options.seed}
    if options.total_timesteps <= 0:
        return model
    algorithm = OnPolicyIteration(model, config, env=env, eval_env=eval_env, log_keys=log_keys,
                                  before_update=before_update)
    run = TrainingRun(model, env, options, algorithm.steps_per_iteration, model.world)
    if load_path is not None:
        run.resume(algorithm, load_path)

    def local_vars() -> dict[str, Any]:
        return algorithm.callback_locals(run)

    run.train(algorithm, after_update_callback(callback, local_vars) if callback_globals is None
              else before_step_callback(callback, local_vars, callback_globals))
    return model


class OnPolicyIteration(Algorithm):
    """One rollout of `nsteps` on every env (and, with an eval env, one alongside it), then the model's update."""

    def __init__(self, model: OnPolicyLearner, config: OnPolicyConfig, *, env: VecEnv, eval_env: VecEnv | None,
                 log_keys: LogKeys, before_update: Callable[[float], None] | None) -> None:
        self.model = model
        self.config = config
        self.env = env
        self.eval_env = eval_env
        self.log_keys = log_keys
        self.before_update = before_update
        self.lr = config.lr_schedule()
        self.steps_per_iteration = model.world.size * env.num_envs * config.nsteps
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.episode_lengths: deque[float] = deque(maxlen=100)
        self.eval_returns: deque[float] = deque(maxlen=100)
        self.recent_returns = self.episode_returns
        self.episodes = 0  # episodes every rank finished in this learn() call
        self.iteration_episodes = 0  # of those, in the last iteration
        self.runner: Runner | None = None
        self.eval_runner: Runner | None = None
        self.first_start = time.perf_counter()
        self.last_stats: dict[str, float] = {}

    def begin(self, run: TrainingRun) -> None:
        """Build the runners (each resets its envs)."""
        config = self.config
        self.runner = Runner(env=self.env, model=self.model, nsteps=config.nsteps, gamma=config.gamma, lam=config.lam)
        if self.eval_env is not None:
            self.eval_runner = Runner(env=self.eval_env, model=self.model, nsteps=config.nsteps, gamma=config.gamma,
                                      lam=config.lam)
        self.first_start = time.perf_counter()

    def iterate(self, run: TrainingRun, stop: StopRequest) -> bool:
        """Collect, update, log. A signal mid-rollout drops the rollout, except in deterministic runs, whose
        checkpoints hold the envs' state: there the rollout and its update complete first."""
        start = time.perf_counter()
        frac = run.frac_remaining()
        collected = self._collect(None if run.options.deterministic else stop, run.world)
        if collected is None:
            return False
        rollout, evaluation = collected
        self.eval_returns.extend(evaluation)
        # every rank's episodes, as baselines' episodes_so_far (its allgather); Monitor or not
        self.iteration_episodes = int(run.world.sum(np.array([rollout.episode_ends], np.int64))[0])
        self.episodes += self.iteration_episodes
        for episode in rollout.episodes:
            self.episode_returns.append(episode["r"])
            self.episode_lengths.append(episode["l"])
        if self.before_update is not None:
            self.before_update(frac)
        stats = self.model.update(rollout, lr=self.lr(frac), noptepochs=self.config.noptepochs,
                                  nminibatches=self.config.nminibatches, rng=run.rng, nonfinite=run.nonfinite)
        stats.pop("nonfinite_skipped")  # the run's guard counts them
        self.last_stats = stats
        update = run.iteration + 1
        if update % self.config.log_interval == 0 or update == 1:
            now = time.perf_counter()
            self._log(run, update, self.steps_per_iteration / (now - start), now - self.first_start, rollout, stats)
        return True

    def checkpoint_due(self, iteration: int) -> bool:
        return bool(self.config.save_interval) and iteration % self.config.save_interval == 0

    def env_position(self) -> list[tuple[str, np.ndarray]] | None:
        runner = self.runner
        if runner is None:
            return None
        states = runner.states if runner.states is not None else np.zeros((0, 0), np.float32)
        return [("obs", runner.obs), ("dones", runner.dones), ("states", states)]

    def set_env_position(self, arrays: list[np.ndarray]) -> None:
        assert self.runner is not None  # begin() built it
        obs, dones, states = arrays
        self.runner.obs, self.runner.dones = obs, dones
        self.runner.states = states if self.runner.states is not None else None

    def callback_locals(self, run: TrainingRun) -> dict[str, Any]:
        """What baselines' ppo2/a2c callbacks find in `locals()`."""
        return {"update": run.iteration, "nupdates": run.total_iterations, "nbatch": self.steps_per_iteration,
                "model": self.model, "learner": self.model, "runner": self.runner, "stats": self.last_stats,
                "episode_returns": self.episode_returns, "episode_lengths": self.episode_lengths,
                "eval_returns": self.eval_returns, "episodes_so_far": self.episodes, "iters_so_far": run.iteration,
                "timesteps_so_far": run.timesteps, "pi": self.model, "run": run, "self": self}

    def _collect(self, stop: StopRequest | None, world: World) -> tuple[Rollout, list[float]] | None:
        """(rollout, evaluation episodes' returns) on every rank, or None on every rank if a signal cut a rank's
        rollout short. An env fault raises: with one rank its own error, under MPI DistributedEnvError on every
        rank."""
        assert self.runner is not None  # begin() built it
        collected = failure = None
        try:
            rollout = self.runner.run(stop)
            if rollout is not None:
                evaluation = self.eval_runner.run() if self.eval_runner is not None else None  # never cut short
                collected = (rollout, [episode["r"] for episode in evaluation.episodes] if evaluation else [])
        except VecEnvError as error:
            if world.size == 1:
                raise
            failure = error
        statuses = world.gather(_FAILED if failure is not None else _STOPPED if collected is None else _COLLECTED)
        failed = [rank for rank, status in enumerate(statuses) if status == _FAILED]
        if failed:
            raise DistributedEnvError(failed, failure) from failure
        return collected if max(statuses) == _COLLECTED else None

    def _log(self, run: TrainingRun, update: int, fps: float, elapsed: float, rollout: Rollout,
             stats: dict[str, float]) -> None:
        """Rank 0 logs; every rank must call this, since episode statistics, loss terms and env restarts are summed
        over ranks (episode means over every rank's recent episodes, loss terms averaged over ranks)."""
        world = run.world
        episodes = {"eprewmean": self.episode_returns, "eplenmean": self.episode_lengths}
        if self.eval_runner is not None:
            episodes["eval_eprewmean"] = self.eval_returns
        local = [quantity for values in episodes.values() for quantity in (float(np.sum(values)), len(values))]
        restarts = getattr(self.env, "restarts", 0)
        totals = world.sum(np.array([*local, *stats.values(), restarts], np.float64))
        if world.rank != 0:
            return
        misc, loss = self.log_keys.misc_prefix, self.log_keys.loss_prefix
        logger.logkv(f"{misc}serial_timesteps", update * self.config.nsteps)
        logger.logkv(f"{misc}nupdates", update)
        logger.logkv(f"{misc}total_timesteps", update * self.steps_per_iteration)
        logger.logkv("fps", int(fps))
        logger.logkv(f"{misc}explained_variance", explained_variance(rollout.values, rollout.returns))
        means = {name: totals[2 * index] / totals[2 * index + 1] if totals[2 * index + 1] else float("nan")
                 for index, name in enumerate(episodes)}
        logger.logkvs(means)
        if self.log_keys.segment_keys:
            logger.logkv("EpRewMean", means["eprewmean"])
            logger.logkv("EpLenMean", means["eplenmean"])
            logger.logkv("EpThisIter", self.iteration_episodes)
            logger.logkv("EpisodesSoFar", self.episodes)
            logger.logkv("TimestepsSoFar", run.timesteps + self.steps_per_iteration)  # this update's included
            logger.logkv("TimeElapsed", elapsed)
            logger.logkv("ev_tdlam_before", explained_variance(rollout.values, rollout.returns))
        logger.logkv(f"{misc}time_elapsed", elapsed)
        logger.logkv(f"{misc}nonfinite_updates_skipped", run.nonfinite.total_skipped)
        logger.logkv(f"{misc}env_restarts", int(totals[-1]))
        for index, name in enumerate(stats):
            logger.logkv(f"{loss}{name}", totals[len(local) + index] / world.size)
        logger.dumpkvs()


_COLLECTED, _STOPPED, _FAILED = 0, 1, 2  # how a rank's collection ended
