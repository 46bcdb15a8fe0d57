"""The collection loop DDPG, TD3 and SAC share, as the training core's `Algorithm` (no TensorFlow here).

One iteration plays `rollout_steps` steps on every env (uniform random actions until `random_steps` env steps,
then the agent's exploration), stores the transitions, then runs `train_steps` gradient steps on replay batches
once the memory holds `learning_starts` transitions. DDPG's iteration is baselines' epoch cycle (100 steps, then
50 updates); TD3 and SAC step once and update once. Resume, checkpoints, signals, env faults and progress are the
core's (`TrainingRun`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED
from baselines_tf2.off_policy.replay import Memory
from baselines_tf2.training.callbacks import before_step_callback
from baselines_tf2.training.checkpoint import saved_replay_arrays
from baselines_tf2.training.evaluation import passes_multiple
from baselines_tf2.training.run import Algorithm, ArrayGroups, RunOptions, TrainingRun
from baselines_tf2.training.stop_signals import StopRequest

RETURN_HISTORY = 100  # episodes in baselines' rollout/return_history


class Replay(Protocol):
    """What the loop needs of a replay memory (`Memory`, or HER's `HerReplayBuffer`)."""

    @property
    def nb_entries(self) -> int: ...

    def store(self, obs0: Any, actions: np.ndarray, rewards: np.ndarray, obs1: Any, terminals1: np.ndarray,
              dones: np.ndarray, infos: Any) -> None: ...
    def sample(self, batch_size: int) -> dict[str, np.ndarray]: ...
    def end_episodes(self) -> None: ...
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...
    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None: ...


class Learner(Protocol):
    """What the loop needs of an agent (`off_policy.agent.OffPolicyAgent`)."""

    nb_actions: int
    normalizer: Any

    def explore(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...
    def scale_actions(self, actions: np.ndarray) -> np.ndarray: ...
    def train_step(self, batch: dict[str, np.ndarray]) -> dict[str, Any]: ...
    def after_episode(self, env_index: int, num_envs: int) -> None: ...
    def before_rollout(self, num_envs: int) -> None: ...
    def maybe_adapt(self, train_step: int, memory: Any) -> dict[str, float]: ...
    def observe(self, observations: Any) -> None: ...
    def after_rollout(self, memory: Any, steps: int) -> None: ...
    def after_training(self) -> None: ...
    def noise_state(self) -> dict[str, Any]: ...
    def set_noise_state(self, state: dict[str, Any]) -> None: ...
    def __call__(self, obs: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class Schedule:
    """How an algorithm's iterations are cut: env steps per env, gradient steps, and when each starts."""

    rollout_steps: int  # steps on each env per iteration
    train_steps: int  # gradient steps per iteration
    batch_size: int
    learning_starts: int  # transitions in memory before the first gradient step
    random_steps: int  # env steps (over all envs) acted uniformly at random before the agent acts
    log_every: int  # iterations between log lines
    checkpoint_every: int  # env steps between checkpoints (0: only at the end)
    reward_scale: float = 1.0  # rewards are stored multiplied by this (baselines' DDPG reward_scale)
    learning_starts_option: str = "learning_starts"  # the learn() argument that sets learning_starts, for errors


class OffPolicyIteration(Algorithm):
    """Collect `rollout_steps` on every env, store them, then `train_steps` updates; logs baselines' DDPG keys."""

    def __init__(self, agent: Learner, venv: VecEnv, memory: Replay, schedule: Schedule, run: TrainingRun,
                 evaluation: Any = None, save_replay: bool = False) -> None:
        self.agent = agent
        self.venv = venv
        self.memory = memory
        self.schedule = schedule
        self.run = run
        self.evaluation = evaluation
        self.save_replay = save_replay
        self.num_envs = venv.num_envs
        self.steps_per_iteration = run.steps_per_iteration
        self.episode_returns: deque[float] = deque(maxlen=RETURN_HISTORY)
        self.recent_returns = self.episode_returns
        self.episodes = 0
        self.gradient_steps = 0
        self.obs: Any = None
        self.window = LogWindow()
        self.start_time = time.perf_counter()
        self.start_iteration = 0

    def begin(self, run: TrainingRun) -> None:
        self.obs = self.venv.reset()
        self.start_iteration = run.iteration
        self.start_time = time.perf_counter()

    def iterate(self, run: TrainingRun, stop: StopRequest) -> bool:
        schedule = self.schedule
        self.agent.before_rollout(self.num_envs)
        # A stop signal is honoured between iterations (by the core), never mid-rollout: a checkpoint must not hold
        # transitions and env positions of an iteration it does not count.
        for step in range(schedule.rollout_steps):
            self._env_step(played=run.timesteps + step * self.num_envs, rng=run.rng)
        self.agent.after_rollout(self.memory, schedule.rollout_steps)
        # batches are drawn with replacement, so a memory smaller than a batch can train (as baselines' HER does)
        if self.memory.nb_entries >= max(schedule.learning_starts, 1):
            for train_step in range(schedule.train_steps):
                self.window.note(self.agent.maybe_adapt(train_step, self.memory))
                stats = {name: float(value) for name, value in self.agent.train_step(
                    self.memory.sample(schedule.batch_size)).items()}
                self.gradient_steps += 1
                run.nonfinite.record(stats.pop("skipped") > 0, self.gradient_steps, stats)
                self.window.note(stats)
            self.agent.after_training()
        steps_done = (run.iteration + 1) * self.steps_per_iteration
        if self.evaluation is not None and self.evaluation.due(steps_done, self.steps_per_iteration):
            self.evaluation.evaluate(run.agent, steps_done)
            if getattr(self.evaluation, "env", None) is self.venv:  # it played (and reset) the training envs
                self.memory.end_episodes()
                self.obs = self.evaluation.obs
        if (run.iteration + 1) % schedule.log_every == 0:
            self._log(run, steps_done)
        return True

    def _env_step(self, played: int, rng: np.random.Generator) -> None:
        """One step on every env, `played` env steps into the run."""
        if played < self.schedule.random_steps:
            unit_actions = rng.uniform(-1.0, 1.0, (self.num_envs, self.agent.nb_actions)).astype(np.float32)
        else:
            unit_actions = np.clip(self.agent.explore(self.obs, rng), -1.0, 1.0)
        new_obs, rewards, dones, infos = self.venv.step(self.agent.scale_actions(unit_actions))
        terminals = np.zeros(self.num_envs, np.float32)
        for done_index in np.flatnonzero(dones):
            terminals[done_index] = 0.0 if infos[done_index].get(TRUNCATED, False) else 1.0  # a time-limit cut
            # bootstraps
        stored_rewards = np.asarray(rewards, np.float32) * self.schedule.reward_scale
        self.memory.store(self.obs, unit_actions, stored_rewards, final_observations(new_obs, dones, infos),
                          terminals, np.asarray(dones, bool), infos)
        self.agent.observe(self.obs)
        self.window.actions.append(unit_actions)
        for index, info in enumerate(infos):
            if "episode" in info:
                self.episode_returns.append(float(info["episode"]["r"]))
                self.window.episode_returns.append(float(info["episode"]["r"]))
                self.window.episode_lengths.append(int(info["episode"]["l"]))
                self.episodes += 1
            if dones[index]:
                if "is_success" in info:  # goal envs: was the goal reached at the episode's last step
                    self.window.successes.append(float(info["is_success"]))
                self.agent.after_episode(index, self.num_envs)
        self.obs = new_obs

    def _log(self, run: TrainingRun, steps_done: int) -> None:
        """baselines' DDPG keys over the iterations since the last log line (under MPI rank 0 logs its own episodes
        and actions; steps count every rank's)."""
        window, self.window = self.window, LogWindow()
        if run.world.rank != 0:
            return
        elapsed = time.perf_counter() - self.start_time
        actions = np.concatenate(window.actions) if window.actions else np.zeros(1)
        values: dict[str, float] = {
            "rollout/return": _mean(window.episode_returns),
            "rollout/return_history": _mean(self.episode_returns),
            "rollout/episode_steps": _mean(window.episode_lengths),
            "rollout/episodes": len(window.episode_returns),
            "rollout/actions_mean": float(np.mean(actions)),
            "rollout/actions_std": float(np.std(actions)),
            "total/duration": elapsed,
            "total/steps_per_second": (steps_done - self.start_iteration * self.steps_per_iteration) / elapsed,
            "total/episodes": self.episodes,
            "total/steps": steps_done,
            "train/gradient_steps": self.gradient_steps,
            "misc/nonfinite_updates_skipped": run.nonfinite.total_skipped,
            "misc/env_restarts": getattr(self.venv, "restarts", 0),
        }
        if window.successes:
            values["train/success_rate"] = _mean(window.successes)
        for name, samples in window.stats.items():
            values[name if "/" in name else f"train/{name}"] = _mean(samples)
        values.update(getattr(self.agent, "log_values", dict)())
        if hasattr(self.evaluation, "log_values"):
            values.update(self.evaluation.log_values())
        for key, value in values.items():
            logger.record_tabular(key, value)
        logger.dump_tabular()

    def checkpoint_due(self, iteration: int) -> bool:
        every = self.schedule.checkpoint_every
        return passes_multiple(iteration * self.steps_per_iteration, self.steps_per_iteration, every or 0)

    def keep_best(self, state: dict[str, Any]) -> None:
        if hasattr(self.evaluation, "restore"):
            self.evaluation.restore(state)

    def training_state(self) -> dict[str, Any]:
        # the evaluation's best score (TD3's and SAC's best-eval, HER's policy_best) survives a resume
        evaluation_state: dict[str, Any] = getattr(self.evaluation, "training_state", dict)()
        return {"episodes": self.episodes, "gradient_steps": self.gradient_steps, **evaluation_state}

    def checkpoint_data(self) -> tuple[dict[str, Any], ArrayGroups]:
        if not self.save_replay:
            return {}, {}
        info, arrays = self.memory.state()
        return {"replay": info, "replay_arrays": list(arrays)}, {"replay": list(arrays.items())}

    def restore(self, state: dict[str, Any], metadata: dict[str, Any], groups: dict[str, list[np.ndarray]]) -> str:
        self.episodes = int(state.get("episodes", 0))
        self.gradient_steps = int(state.get("gradient_steps", 0))
        if "replay" in groups:
            self.memory.load_state(metadata["replay"], saved_replay_arrays(metadata, groups))
            return ""
        return (f"; the replay memory was not saved (--save_replay), so training waits until it holds "
                f"{self.schedule.learning_starts} transitions again")

    def env_position(self) -> list[tuple[str, np.ndarray]] | None:
        if self.obs is None:
            return None
        if isinstance(self.obs, dict):  # a goal env's observations: one array per key, in the space's key order
            space = self.venv.observation_space
            assert isinstance(space, gymnasium.spaces.Dict)
            return [(f"obs.{key}", np.asarray(self.obs[key])) for key in space.spaces]
        return [("obs", np.asarray(self.obs))]

    def set_env_position(self, arrays: list[np.ndarray]) -> None:
        space = self.venv.observation_space
        if isinstance(space, gymnasium.spaces.Dict):
            self.obs = dict(zip(space.spaces, arrays))
        else:
            self.obs = arrays[0]


class EvalSteps:
    """baselines' DDPG evaluation: after each iteration, `steps` deterministic steps on `env`, episodes carried on
    across iterations; logged with the next log line as eval/return (episodes since the last line) and
    eval/return_history (the last 100)."""

    def __init__(self, env: VecEnv, steps: int, act: Any) -> None:
        self.env = env
        self.steps = steps
        self.act = act
        self.obs: Any = None
        self.returns: list[float] = []
        self.history: deque[float] = deque(maxlen=RETURN_HISTORY)

    def due(self, timesteps: int, steps: int = 1) -> bool:
        """Every iteration."""
        return True

    def evaluate(self, agent: Any, timesteps: int) -> None:
        """Play the steps, noting the episodes that end."""
        if self.obs is None:
            self.obs = self.env.reset()
        for _ in range(self.steps):
            self.obs, _rewards, _dones, infos = self.env.step(self.act(self.obs))
            for info in infos:
                if "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
                    self.history.append(float(info["episode"]["r"]))

    def log_values(self) -> dict[str, float]:
        """The eval keys for this log line."""
        values = {"eval/return": _mean(self.returns), "eval/return_history": _mean(self.history),
                  "eval/episodes": len(self.returns)}
        self.returns = []
        return values


class LogWindow:
    """What happened since the last log line: episodes, actions and the updates' statistics."""

    def __init__(self) -> None:
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.successes: list[float] = []  # goal envs' info['is_success'] at each episode's end
        self.actions: list[np.ndarray] = []
        self.stats: dict[str, list[float]] = {}

    def note(self, stats: dict[str, float]) -> None:
        """Add one update's statistics."""
        for name, value in stats.items():
            self.stats.setdefault(name, []).append(float(value))


def final_observations(new_obs: Any, dones: np.ndarray, infos: Any) -> Any:
    """Each env's observation after its step: the reset observation the VecEnv returns replaced, where an episode
    ended, by its terminal observation (an array batch, or a goal env's dict of batches)."""
    ended = np.flatnonzero(dones)
    if isinstance(new_obs, dict):
        final = {key: np.array(value) for key, value in new_obs.items()}
        for index in ended:
            terminal = infos[index].get(TERMINAL_OBSERVATION)
            if terminal is not None:
                for key in final:
                    final[key][index] = terminal[key]
        return final
    final_array = np.array(new_obs)
    for index in ended:
        final_array[index] = np.asarray(infos[index].get(TERMINAL_OBSERVATION, new_obs[index]))
    return final_array


def _mean(values: Any) -> float:
    """The mean of the values that are numbers: TD3 reports its actor loss as NaN on the updates that skip the actor,
    and the log line shows the mean of those it made (NaN when none)."""
    finite = [value for value in values if not np.isnan(value)]
    return float(np.mean(finite)) if finite else float("nan")


def train_off_policy(agent: Any, venv: VecEnv, schedule: Schedule, options: RunOptions, *,
                     load_path: str | None, save_replay: bool, buffer_size: int,
                     evaluation: Any = None, callback: Any = None, replay: Any = None) -> None:
    """Run `agent` on `venv` through the training core: replay memory, the iteration, resume and checkpoints.

    `replay(buffer_size, action_shape, observation_shape, seed=, flatten=)` builds the replay memory (default:
    `Memory`; HER's `HerReplayBuffer` takes a goal env's dict observations)."""
    memory: Replay = (replay or Memory)(buffer_size, (agent.nb_actions,), (agent.obs_size,), seed=options.seed,
                                flatten=agent.flat_observations)
    run = TrainingRun(agent, venv, options, schedule.rollout_steps * venv.num_envs * agent.world.size)
    algorithm = OffPolicyIteration(agent, venv, memory, schedule, run, evaluation, save_replay)
    if load_path is not None:
        run.resume(algorithm, load_path)
    run.train(algorithm, before_step_callback(callback, lambda: {"self": algorithm, "agent": agent,
                                                                 "memory": memory, "t": run.timesteps}, globals()))
