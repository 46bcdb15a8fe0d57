"""One training run, whatever the algorithm: the loop every algorithm's `learn()` hands its iteration to.

An algorithm says what one iteration is (PPO2: a rollout and its epochs of minibatches; DQN: one env step and
maybe a gradient step) and how many env steps it takes. `TrainingRun` repeats it and owns everything else:
counting iterations and steps, the resume rule, the run's RNG, the checkpoint folder (keep-K, `latest`, on stop,
at the end), stop signals, env faults, the non-finite guard's limit, the progress bar, best-model keeping,
VecNormalize statistics, the envs' exact state in deterministic runs, and MPI rank roles (rank 0 writes).
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import describe_vec_env
from baselines_tf2.common.mpi_util import World, world
from baselines_tf2.common.validation import require_number, whole_floats_as_ints
from baselines_tf2.common.vec_env import VecEnv, VecNormalize
from baselines_tf2.common.vec_env.resume_state import capture_vec_env_state, restore_vec_env_state
from baselines_tf2.common.vec_env.vec_env import VecEnvError
from baselines_tf2.training.agent import Agent
from baselines_tf2.training.callbacks import StopCallback
from baselines_tf2.training.checkpoint import CHECKPOINTS_SUBDIR, CheckpointError, load_checkpoint, read_metadata
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP, CheckpointDirectory
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES, NonFiniteGuard
from baselines_tf2.training.progress import TrainingProgress
from baselines_tf2.training.stop_signals import StopRequest, TrainingInterrupted

ArrayGroups = dict[str, list[tuple[str, np.ndarray]]]  # named arrays a checkpoint stores beside the weights


@dataclass(frozen=True)
class RunOptions:
    """How a run shows progress, checkpoints and guards itself: the same for every algorithm, and none of it changes
    what is learned (the hyperparameters live in each algorithm's config)."""

    total_timesteps: int  # env steps over all envs and ranks
    seed: int | None = None  # the run's RNG (minibatch shuffling, exploration), already offset per MPI rank
    progress_bar: bool = False
    keep_checkpoints: int = DEFAULT_KEEP  # newest checkpoints kept in <log dir>/checkpoints; 0 keeps all
    max_nonfinite_updates: int = DEFAULT_MAX_NONFINITE_UPDATES  # skipped gradient steps in a row before stopping
    deterministic: bool = False  # checkpoints also hold the envs' exact state (ResumableEnv), for exact resume

    def __post_init__(self) -> None:
        require_number("total_timesteps", self.total_timesteps)
        whole_floats_as_ints(self)  # total_timesteps=1e6, as baselines code often passes it


class Algorithm(ABC):
    """What an algorithm gives the run: one iteration of data collection and update, and its own state.

    Everything has a default but `iterate`; an algorithm overrides only what it has (PPO2 has a runner position
    to save, DQN a replay buffer and a best model).
    """

    steps_per_iteration: int  # env steps one iteration takes, over all MPI ranks
    recent_returns: Sequence[float] = ()  # the last episodes' returns, for the progress bar

    @abstractmethod
    def iterate(self, run: TrainingRun, stop: StopRequest) -> bool:
        """Collect and update once; False if a stop signal cut the collection short (then nothing was trained)."""

    def begin(self, run: TrainingRun) -> None:
        """Get ready for the first iteration (reset the envs); called after a resume restored the state."""

    def end(self) -> None:
        """Finish work in flight (a gradient step in a background thread) before the final checkpoint."""

    def checkpoint_due(self, iteration: int) -> bool:
        """Whether to checkpoint after iteration `iteration` (1-based over the run)."""
        return False

    def training_state(self) -> dict[str, Any]:
        """JSON-able position beyond the run's counters (e.g. episodes seen), written into checkpoints."""
        return {}

    def checkpoint_data(self) -> tuple[dict[str, Any], ArrayGroups]:
        """Extra metadata and arrays a checkpoint holds to resume exactly (e.g. the replay buffer)."""
        return {}, {}

    def restore(self, state: dict[str, Any], metadata: dict[str, Any], groups: dict[str, list[np.ndarray]]) -> str:
        """Take back `training_state` and `checkpoint_data` when resuming; a note for the log (may be empty)."""
        return ""

    def env_position(self) -> list[tuple[str, np.ndarray]] | None:
        """The arrays that, with the envs' saved state, put the next iteration where it was (last observation...)."""
        return None

    def set_env_position(self, arrays: list[np.ndarray]) -> None:
        """Take back `env_position` on an exact resume, after the envs were brought to their saved state."""

    def best_model_score(self) -> float | None:
        """The score the best model is kept by (checked at each periodic checkpoint); None keeps none."""
        return None

    def keep_best(self, state: dict[str, Any]) -> None:
        """Take back the best scores of a loaded checkpoint's training state whose best models are still on disk
        (a resumed run, or one trained further in the same folder), so a worse score replaces none of them."""


class TrainingRun:
    """Where a run stands and how it checkpoints, resumes and stops; `train(algorithm)` runs it.

    Only rank 0 writes checkpoints (into <log dir>/checkpoints, when a log dir is configured).
    """

    def __init__(self, agent: Agent, env: VecEnv, options: RunOptions, steps_per_iteration: int,
                 ranks: World | None = None) -> None:
        self.agent = agent
        self.env = env
        self.options = options
        self.world = ranks or world()  # the MPI ranks training together (one without mpiexec)
        self.steps_per_iteration = steps_per_iteration
        self.total_iterations = options.total_timesteps // steps_per_iteration
        if 0 < options.total_timesteps < steps_per_iteration:  # 0 is baselines' way to build a model untrained
            logger.warn(f"WARNING: total_timesteps={options.total_timesteps} is less than one iteration's "
                        f"{steps_per_iteration} env steps (steps per rollout x envs x MPI ranks): nothing will be "
                        "trained; give at least that many steps, or fewer steps per rollout")
        self.iteration = 0  # iterations done in this run (including those before a resume)
        self.rng = np.random.default_rng(options.seed)  # the algorithm's randomness, saved and restored here
        self.nonfinite = NonFiniteGuard(options.max_nonfinite_updates)
        self.timesteps_before = agent.timesteps  # steps the agent had trained before this run started
        self._pending_normalizer: tuple[dict[str, Any] | None, str] = (None, "")
        self._pending_env_state: tuple[dict[str, Any], list[np.ndarray]] | None = None
        log_dir = logger.get_dir()
        folder = os.path.join(log_dir, CHECKPOINTS_SUBDIR) if log_dir and self.world.rank == 0 else None
        self.checkpoints = CheckpointDirectory(folder, options.keep_checkpoints) if folder else None
        if self.checkpoints is not None:
            try:  # an agent no checkpoint can describe (a network given as a function) trains without checkpoints
                agent.metadata()
            except CheckpointError as err:
                logger.warn(f"WARNING: this run writes no checkpoints: {err}")
                self.checkpoints = None
        # Checkpoint numbers are this plus the iteration. A schedule starting in a folder that already holds
        # checkpoints (a finished run trained further) numbers its own after them, so none is overwritten and
        # pruning removes the oldest; a resumed run keeps the offset it started with.
        numbered = self.checkpoints.numbered() if self.checkpoints is not None else []
        self.checkpoint_offset = int(numbered[-1]) if numbered else 0
        self.best_model = BestModel()
        self.save_failure: str | None = None  # why the last checkpoint could not be written (None: it was)
        # the iteration the last checkpoint was written, or tried and refused by the disk, for (a failed write is
        # reported once, not tried again at the end)
        self.checkpointed_iteration: int | None = None

    @property
    def timesteps(self) -> int:
        """Env steps this run has trained, over all ranks (including those before a resume)."""
        return self.iteration * self.steps_per_iteration

    def frac_remaining(self) -> float:
        """baselines' `frac` for the iteration about to run: 1 at the first, 1/total at the last."""
        return 1.0 - self.iteration / self.total_iterations

    def resume(self, algorithm: Algorithm, path: str) -> None:
        """Continue the run the checkpoint at `path` came from, if it is this one (same total steps) and unfinished.

        With another batch (another number of MPI ranks or envs) the run goes on from the iteration that has done
        at most the checkpoint's steps, so schedules continue at (nearly) the same point. The agent's weights were
        loaded by the caller; anything else starts a new schedule from them."""
        metadata, groups = load_checkpoint(path)
        state = metadata.get("training") or {}
        same_run = state.get("total_timesteps") == self.options.total_timesteps
        saved_batch = int(state.get("nbatch", 0))
        iteration = int(state.get("update", 0)) * saved_batch // self.steps_per_iteration if same_run else 0
        # the weights were trained on inputs normalized by these statistics: they come back on every load
        self._pending_normalizer = (saved_vec_normalize_state(metadata), path)
        try:
            self.best_model.keep(state.get("best_mean_reward"))
            algorithm.keep_best(state)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path!r}: its best scores cannot be restored ({err})") from None
        if not 0 < iteration < self.total_iterations:
            logger.log(f"loaded {path} ({self.agent.timesteps} steps trained); training a new schedule")
            return
        try:
            self.rng.bit_generator.state = state["rng"]
            checkpoint_offset = int(state.get("checkpoint_offset", 0))  # checkpoints from before it had none
            if checkpoint_offset < 0:
                raise ValueError(f"checkpoint_offset is {checkpoint_offset}, below 0")
            note = algorithm.restore(state, metadata, groups)
        except (KeyError, TypeError, ValueError, OverflowError) as err:  # OverflowError: an RNG state's range
            raise CheckpointError(f"{path!r}: its training state cannot be restored ({err})") from None
        self.iteration = iteration
        self.checkpointed_iteration = iteration
        self.checkpoint_offset = checkpoint_offset
        self.timesteps_before = self.agent.timesteps - self.timesteps
        same_batch = saved_batch == self.steps_per_iteration
        if self.options.deterministic and "env_state" in metadata and same_batch:
            self._pending_env_state = (metadata["env_state"], groups.get("runner", []))
        batch = "" if same_batch else (
            f" (its batch was {saved_batch} steps, this run's is {self.steps_per_iteration}: continuing from step "
            f"{self.timesteps} of its {state['update'] * saved_batch})")
        exact = ", envs replayed to their saved state" if self._pending_env_state else ""
        logger.log(f"resuming {path} at update {iteration}/{self.total_iterations}{batch}{exact}{note}")

    def save(self, algorithm: Algorithm, with_env_state: bool = True, then: str = "") -> str | None:
        """Checkpoint the state after the last completed iteration; its path (None on ranks > 0, without a log
        dir, or if the write failed: then `save_failure` says why, and the log says so followed by `then`).
        The envs' exact state is saved only in deterministic single-process runs with live envs."""
        self._describe_env()
        if self.checkpoints is None:
            return None
        self.agent.timesteps = self.timesteps_before + self.timesteps
        metadata, groups = algorithm.checkpoint_data()
        training = {"total_timesteps": self.options.total_timesteps, "nbatch": self.steps_per_iteration,
                    "update": self.iteration, "rng": self.rng.bit_generator.state,
                    "checkpoint_offset": self.checkpoint_offset, **algorithm.training_state()}
        if self.best_model.path is not None:
            training["best_mean_reward"] = self.best_model.score
        extra: dict[str, Any] = {"training": training, **metadata}
        normalizer = find_vec_normalize(self.env)
        if normalizer is not None:
            extra["vec_normalize"] = normalizer.state_dict()
        position = algorithm.env_position() if with_env_state and self.options.deterministic else None
        if position is not None and self.world.size == 1:
            extra["env_state"] = capture_vec_env_state(self.env)
            groups = {**groups, "runner": position}
        self.checkpointed_iteration = self.iteration
        try:
            number = self.checkpoint_offset + self.iteration
            path = self.checkpoints.save(number, lambda target: self.agent.save(target, extra, groups))
        except OSError as err:  # a full disk, a lost mount: the state in memory is fine, so the run decides
            previous = self.checkpoints.latest()
            kept = f"the previous checkpoint {previous} is intact" if previous else "there is no earlier checkpoint"
            self.save_failure = f"checkpoint {number} could not be written ({err}); {kept}"
            logger.warn(f"WARNING: {self.save_failure}{then}")
            return None
        self.save_failure = None
        logger.log(f"saved checkpoint {path}")
        return path

    def train(self, algorithm: Algorithm, callback: StopCallback | None = None) -> None:
        """Iterate until `total_timesteps` env steps are done, a callback stops it, or a signal does.

        Checkpoints go to <log dir>/checkpoints when `algorithm.checkpoint_due`, at the end (also one a callback
        chose), on SIGINT/SIGTERM (then TrainingInterrupted is raised) and before an env fault is re-raised. Under
        MPI a signal, a callback or an env fault on any rank stops every rank at the same iteration.
        """
        remaining = (self.total_iterations - self.iteration) * self.steps_per_iteration
        progress = TrainingProgress(remaining, enabled=self.options.progress_bar and self.world.rank == 0)
        with StopRequest() as stop, contextlib.closing(progress):
            try:
                try:
                    algorithm.begin(self)
                    self._restore_env_state(algorithm)
                    self._loop(algorithm, callback, stop, progress)
                finally:
                    algorithm.end()  # work in flight lands before any checkpoint below
            except VecEnvError:  # the VecEnv is closed now: save without its state
                if stop.signum is not None:  # the workers went down with the same signal: a stop, not a fault
                    raise self._interrupted(stop.signum, self.save(algorithm, with_env_state=False)) from None
                saved = self.save(algorithm, with_env_state=False)
                if saved:
                    logger.log(f"an env failed; the state after update {self.iteration} is in {saved}")
                raise
        signum = max(self.world.gather(stop.signum or 0))  # ranks the signal did not reach stop with the others
        if signum:
            raise self._interrupted(signum, self.save(algorithm))
        # the end, whether all steps are done or a callback stopped the run (which --load_path then continues)
        if self.iteration > 0 and self.checkpointed_iteration != self.iteration:
            self.save(algorithm)
        self.agent.timesteps = self.timesteps_before + self.timesteps
        self._describe_env()
        self.best_model.restore_into(self.agent)

    def _loop(self, algorithm: Algorithm, callback: StopCallback | None, stop: StopRequest,
              progress: TrainingProgress) -> None:
        while self.iteration < self.total_iterations and not any(self.world.gather(stop.requested)):
            if callback is not None and callback.before_iteration and callback.says_stop(self.world):
                break
            if not algorithm.iterate(self, stop):
                break
            self.iteration += 1
            progress.update(self.steps_per_iteration, algorithm.recent_returns)
            if algorithm.checkpoint_due(self.iteration):
                score = algorithm.best_model_score()
                if score is not None:
                    self.best_model.offer(score, self.agent)
                self.save(algorithm, then="; training goes on, and the next checkpoint tries again")
            if callback is not None and not callback.before_iteration and callback.says_stop(self.world):
                break

    def _interrupted(self, signum: int, checkpoint: str | None) -> TrainingInterrupted:
        if self.save_failure is None:
            return TrainingInterrupted(signum, checkpoint, self.agent)
        return TrainingInterrupted(signum, checkpoint, self.agent, unsaved_reason=f"the final {self.save_failure}")

    def _describe_env(self) -> None:
        """Refresh the env description the agent saves: its VecNormalize statistics move while training, and a
        model saved after `learn()` must play with the statistics it was trained to (not those at the start)."""
        if "env" in self.agent.run_metadata:
            self.agent.run_metadata["env"] = describe_vec_env(self.env)

    def _restore_env_state(self, algorithm: Algorithm) -> None:
        """After `algorithm.begin` reset the envs: VecNormalize statistics, then (exact resume) the envs' state."""
        load_vec_normalize_statistics(self.env, *self._pending_normalizer)  # after the reset, which updates them
        if self._pending_env_state is not None:
            env_state, arrays = self._pending_env_state
            try:
                restore_vec_env_state(self.env, env_state, arrays[0])
                algorithm.set_env_position(arrays)
            except (ValueError, TypeError, KeyError, IndexError, AssertionError) as err:  # replaying what the file says
                raise CheckpointError(f"its saved env state does not fit this env: {err}") from None
            self._pending_env_state = None


class BestModel:
    """The agent with the best score seen at a checkpoint, kept in a file and put back at the end of training.

    `path` is set by the algorithm that keeps one (baselines' deepq: `<checkpoint_path>/best`)."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.score: float | None = None  # of the model at `path`, saved by this run (or its pieces before a resume)

    def keep(self, score: Any) -> None:
        """Take back a checkpoint's best score, if the model it belongs to is still at `path` (else None)."""
        exists = self.path is not None and os.path.exists(self.path)
        self.score = float(score) if score is not None and exists else None

    def offer(self, score: float, agent: Agent) -> None:
        """Save `agent` if `score` beats the best so far."""
        if self.path is None or (self.score is not None and score <= self.score):
            return
        logger.log(f"saving model: mean reward {self.score} -> {score:.2f}")
        try:
            agent.save(self.path)
        except OSError as err:  # the earlier best model stays, complete (atomic writes)
            logger.warn(f"WARNING: the best model could not be written to {self.path} ({err}); the earlier one stays")
            return
        self.score = score

    def restore_into(self, agent: Agent) -> None:
        """Put the best weights back into `agent`, if this run (or a piece of it before a resume) saved one."""
        if self.path is not None and self.score is not None and os.path.exists(self.path):
            agent.load_weights_only(self.path)
            logger.log(f"restored the model with the best mean reward {self.score:.2f}")


def saved_vec_normalize_state(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The VecNormalize statistics a checkpoint holds: a training checkpoint's at its step, else those of the env
    description (a model saved after learn()), else None."""
    if isinstance(metadata.get("vec_normalize"), dict):
        return metadata["vec_normalize"]
    environment = metadata.get("env")
    wrappers = environment.get("wrappers") if isinstance(environment, dict) else None
    for wrapper in wrappers if isinstance(wrappers, list) else []:
        if not isinstance(wrapper, dict):
            continue
        if wrapper.get("type") == "VecNormalize" and isinstance(wrapper.get("state"), dict):
            return wrapper["state"]
    return None


def restore_vec_normalize(env: VecEnv | None, path: str) -> None:
    """Put the VecNormalize statistics of the checkpoint at `path` into `env`'s VecNormalize, when both have them:
    a model loaded without training (to play, evaluate or save a copy) sees inputs normalized as in its training."""
    if find_vec_normalize(env) is not None:
        load_vec_normalize_statistics(env, saved_vec_normalize_state(read_metadata(path)), path)


def load_vec_normalize_statistics(env: VecEnv | None, statistics: dict[str, Any] | None, path: str) -> None:
    """Load `statistics` (from the checkpoint at `path`) into `env`'s VecNormalize, when both exist."""
    normalizer = find_vec_normalize(env)
    if normalizer is None or statistics is None:
        return
    try:
        normalizer.load_state_dict(statistics, source=path)
    except ValueError as err:
        raise CheckpointError(f"its VecNormalize statistics do not fit this env: {err}") from None


def find_vec_normalize(env: VecEnv | None) -> VecNormalize | None:
    """The VecNormalize in `env`'s wrapper chain, if any (its statistics belong in checkpoints)."""
    while env is not None:
        if isinstance(env, VecNormalize):
            return env
        env = getattr(env, "venv", None)
    return None

