"""Hindsight Experience Replay's memory (Andrychowicz et al. 2017): transitions of goal envs kept with their
episodes, sampled with goals relabelled by what was achieved later in the same episode. No TensorFlow here.

One implementation serves baselines' HER (DDPG) and SAC/TD3 (`replay_buffer_class=HerReplayBuffer`, as in
stable-baselines3). Each env has its own column of a ring, so an episode's transitions are contiguous in it; only
episodes that have ended are sampled (a goal is picked among an episode's later steps, which must exist).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, Mapping

import gymnasium
import numpy as np

from baselines_tf2.common.misc_util import seeded_generator
from baselines_tf2.common.validation import ArgumentError, require_fits_in_memory, require_int
from baselines_tf2.off_policy.config import REPLAY_BUFFER_NAMES, STRATEGIES, check_her_replay_kwargs
from baselines_tf2.off_policy.goals import GOAL_KEYS, describe_goal_space_problem, goal_sizes, is_goal_space

__all__ = ["STRATEGIES", "HerReplayBuffer", "WithDemonstrations", "local_goal_env", "replay_factory"]
MAX_REJECTION_ROUNDS = 32  # then sampling falls back to listing the sampleable transitions

RewardFunction = Callable[[np.ndarray, np.ndarray, Any], Any]  # a goal env's compute_reward(achieved, desired, info)


class HerReplayBuffer:
    """The last `limit` transitions of `num_envs` goal envs, sampled with hindsight goals.

    `goal_selection_strategy` (baselines' `replay_strategy`): 'future' relabels a sampled transition with the goal
    achieved at a uniformly drawn step of the same episode from that transition on (baselines' and the paper's
    default), 'final' with the episode's last achieved goal, 'episode' with any step's of the episode, 'none'
    never. A fraction 1 - 1 / (1 + n_sampled_goal) of each batch is relabelled (baselines' replay_k = 4: 80 %),
    and every reward of the batch is recomputed by the env's `compute_reward` for the batch's goals, in one
    vectorised call (gymnasium-robotics' rewards read only the goals; `info` is passed as {}).

    `sample` returns the learners' batch ('obs0', 'obs1' = `flatten` of the observation and the (relabelled)
    desired goal, 'actions', 'rewards' and 'terminals1' [B, 1]), like `off_policy.replay.Memory`.

    Given the env's `episode_length` (its time limit), an env's column must hold one whole episode: an episode
    longer than the column is never sampled, so a smaller buffer would never train (ArgumentError).
    """

    def __init__(self, limit: int, action_shape: tuple[int, ...], observation_shape: tuple[int, ...],
                 seed: int | None = None, flatten: Callable[[Any], np.ndarray] | None = None, *,
                 observation_space: gymnasium.Space, num_envs: int, compute_reward: RewardFunction,
                 n_sampled_goal: int = 4, goal_selection_strategy: str = "future",
                 episode_length: int | None = None) -> None:
        if not is_goal_space(observation_space):
            raise ValueError(f"HER needs a goal env: {describe_goal_space_problem(observation_space)}")
        if goal_selection_strategy not in STRATEGIES:
            raise ValueError(f"unknown goal_selection_strategy {goal_selection_strategy!r}; valid: "
                             f"{', '.join(STRATEGIES)}")
        require_int("n_sampled_goal", n_sampled_goal, minimum=0)
        self.num_envs = require_int("num_envs", num_envs, minimum=1)
        self.limit = require_int("limit", limit, minimum=1)
        self.capacity = max(1, self.limit // self.num_envs)  # steps each env's column holds
        if episode_length is not None and self.capacity < episode_length:
            raise ArgumentError(
                f"buffer_size={self.limit} holds {self.capacity} steps per env ({self.num_envs} envs), less than one "
                f"episode of {episode_length} steps: HER samples only episodes wholly in memory, so nothing would "
                f"ever train; give buffer_size >= {episode_length * self.num_envs}")
        self.strategy = goal_selection_strategy
        self.relabel_probability = 0.0 if self.strategy == "none" else 1.0 - 1.0 / (1.0 + n_sampled_goal)
        self.compute_reward = compute_reward
        self.flatten = flatten
        self.rng = seeded_generator(seed)
        obs_size, goal_size = goal_sizes(observation_space)  # type: ignore[arg-type]  # a goal space: a Dict
        shapes = {"observation": (obs_size,), "achieved_goal": (goal_size,), "desired_goal": (goal_size,),
                  "next_observation": (obs_size,), "next_achieved_goal": (goal_size,),
                  "actions": tuple(action_shape), "terminals1": ()}
        columns = (self.capacity, self.num_envs)
        row = sum(math.prod(shape) for shape in shapes.values())
        require_fits_in_memory(f"a replay buffer of {self.limit:,} transitions (buffer_size)",
                               (*columns, row), np.dtype(np.float32).itemsize)
        self.arrays = {name: np.zeros((*columns, *shape), np.float32) for name, shape in shapes.items()}
        # Episodes as absolute step numbers (step s of the ring lives in row s % capacity): where the episode of
        # each stored transition starts, and where it ends (one past its last step; 0 while it is still running).
        self.episode_start = np.zeros(columns, np.int64)
        self.episode_end = np.zeros(columns, np.int64)
        self.running_start = np.zeros(self.num_envs, np.int64)  # where each env's current episode started
        self.steps = 0  # VecEnv steps stored over the buffer's life
        self.sampleable = 0  # transitions of ended episodes still wholly in the ring

    @property
    def nb_entries(self) -> int:
        """Transitions that can be sampled (those of ended episodes still wholly in memory)."""
        return self.sampleable

    def __len__(self) -> int:
        return self.sampleable

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated rings."""
        return sum(array.nbytes for array in self.arrays.values()) + self.episode_start.nbytes * 2

    def store(self, obs0: Any, actions: np.ndarray, rewards: np.ndarray, obs1: Any, terminals1: np.ndarray,
              dones: np.ndarray, infos: Any) -> None:
        """One VecEnv step of dict observations (`obs1`: the step's result, the terminal observation where an
        episode ended); the rewards are not kept, `compute_reward` recomputes them when sampled."""
        row = self.steps % self.capacity
        if self.steps >= self.capacity:
            self._forget_row(row)
        for key in GOAL_KEYS:
            self.arrays[key][row] = np.asarray(obs0[key], np.float32).reshape(self.num_envs, -1)
        self.arrays["next_observation"][row] = np.asarray(obs1["observation"], np.float32).reshape(self.num_envs, -1)
        self.arrays["next_achieved_goal"][row] = np.asarray(obs1["achieved_goal"],
                                                            np.float32).reshape(self.num_envs, -1)
        self.arrays["actions"][row] = np.asarray(actions, np.float32).reshape(self.arrays["actions"][row].shape)
        self.arrays["terminals1"][row] = np.asarray(terminals1, np.float32)
        self.episode_start[row] = self.running_start
        self.episode_end[row] = 0
        self.steps += 1
        for env in np.flatnonzero(dones):
            self._end_episode(int(env))

    def end_episodes(self) -> None:
        """The envs were reset mid-episode (an evaluation played them): their running episodes end here, cut."""
        for env in range(self.num_envs):
            if self.running_start[env] < self.steps:
                self._end_episode(env)

    def _end_episode(self, env: int) -> None:
        """Env `env`'s running episode ended with the last stored step: its transitions become sampleable."""
        start, end = int(self.running_start[env]), self.steps
        self.running_start[env] = end
        if start < end - self.capacity:  # longer than the ring: its first steps are gone, it is never sampled
            return
        self.episode_end[np.arange(start, end) % self.capacity, env] = end
        self.sampleable += end - start

    def _forget_row(self, row: int) -> None:
        """Row `row` is about to be overwritten: an ended episode starting there leaves the sampleable set (an
        episode's first step is the first of its steps the ring overwrites)."""
        overwritten = self.steps - self.capacity  # the absolute step that lived in this row
        starts_here = (self.episode_start[row] == overwritten) & (self.episode_end[row] > 0)
        for env in np.flatnonzero(starts_here):
            self.sampleable -= int(self.episode_end[row, env] - overwritten)
            self.episode_end[np.arange(overwritten, self.episode_end[row, env]) % self.capacity, env] = 0

    def _draw(self, batch_size: int, newest: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(absolute steps, envs) of `batch_size` sampleable transitions drawn uniformly with replacement, among
        the `newest` stored steps when given."""
        if self.sampleable == 0:
            raise ValueError("cannot sample from a HER replay buffer before an episode has ended")
        oldest = max(0, self.steps - self.capacity, self.steps - (newest or self.steps))
        steps = self.rng.integers(oldest, self.steps, size=batch_size)
        envs = self.rng.integers(self.num_envs, size=batch_size)
        for _ in range(MAX_REJECTION_ROUNDS):  # transitions of running episodes are redrawn
            bad = np.flatnonzero(self.episode_end[steps % self.capacity, envs] == 0)
            if not len(bad):
                return steps, envs
            steps[bad] = self.rng.integers(oldest, self.steps, size=len(bad))
            envs[bad] = self.rng.integers(self.num_envs, size=len(bad))
        window = (np.arange(oldest, self.steps) % self.capacity)
        rows, columns = np.nonzero(self.episode_end[window] > 0)
        if not len(rows):
            raise ValueError(f"no ended episode among the newest {newest} steps of the HER replay buffer")
        picks = self.rng.integers(len(rows), size=batch_size)
        return oldest + rows[picks], columns[picks]

    def hindsight_goals(self, steps: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The goal each sampled transition learns toward: its own desired goal, or with probability
        `relabel_probability` one achieved in its episode, chosen by the strategy."""
        rows = steps % self.capacity
        goals = self.arrays["desired_goal"][rows, envs].copy()
        relabel = np.flatnonzero(self.rng.random(len(steps)) < self.relabel_probability)
        if not len(relabel):
            return goals
        step, end = steps[relabel], self.episode_end[rows[relabel], envs[relabel]]
        if self.strategy == "future":  # a step from this one to the episode's last, inclusive
            source = step + (self.rng.random(len(relabel)) * (end - step)).astype(np.int64)
        elif self.strategy == "final":
            source = end - 1
        else:  # 'episode'
            start = self.episode_start[rows[relabel], envs[relabel]]
            source = start + (self.rng.random(len(relabel)) * (end - start)).astype(np.int64)
        # the goal achieved after step `source` (its next observation's), as baselines' ag[future_t]
        goals[relabel] = self.arrays["next_achieved_goal"][np.minimum(source, end - 1) % self.capacity,
                                                           envs[relabel]]
        return goals

    def sample(self, batch_size: int, newest: int | None = None) -> dict[str, np.ndarray]:
        """`batch_size` transitions with hindsight goals and the rewards `compute_reward` gives for them, as the
        learners' batch (the goal is the last columns of 'obs0' and 'obs1')."""
        steps, envs = self._draw(batch_size, newest)
        rows = steps % self.capacity
        goals = self.hindsight_goals(steps, envs)
        achieved = self.arrays["next_achieved_goal"][rows, envs]
        rewards = np.asarray(self.compute_reward(achieved, goals, {}), np.float32).reshape(batch_size, 1)

        def flat(observation: np.ndarray) -> np.ndarray:
            joined = {"observation": observation, "achieved_goal": achieved, "desired_goal": goals}
            if self.flatten is not None:
                return np.asarray(self.flatten(joined), np.float32)
            return np.concatenate([observation, goals], axis=1)

        return {"obs0": flat(self.arrays["observation"][rows, envs]), "actions": self.arrays["actions"][rows, envs],
                "rewards": rewards, "obs1": flat(self.arrays["next_observation"][rows, envs]),
                "terminals1": self.arrays["terminals1"][rows, envs].reshape(batch_size, 1)}

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able info, arrays) that `load_state` restores: only the filled rows are stored."""
        filled = min(self.steps, self.capacity)
        arrays: dict[str, np.ndarray] = {name: array[:filled] for name, array in self.arrays.items()}
        arrays["episode_start"] = self.episode_start[:filled]
        arrays["episode_end"] = self.episode_end[:filled]
        arrays["running_start"] = self.running_start
        info = {"limit": self.limit, "num_envs": self.num_envs, "steps": self.steps, "sampleable": self.sampleable,
                "rng": self.rng.bit_generator.state}
        return info, arrays

    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Take back `state()`; ValueError if it was saved with another capacity, env count or shapes."""
        if int(info["limit"]) != self.limit or int(info["num_envs"]) != self.num_envs:
            raise ValueError(f"the saved HER replay buffer holds {info['limit']} transitions of {info['num_envs']} "
                             f"envs, this one {self.limit} of {self.num_envs}")
        steps = int(info["steps"])
        filled = min(steps, self.capacity)
        targets: dict[str, np.ndarray] = {**self.arrays, "episode_start": self.episode_start,
                                          "episode_end": self.episode_end}
        for name, array in targets.items():
            if arrays[name].shape != (filled, *array.shape[1:]):
                raise ValueError(f"the saved replay field {name!r} has shape {arrays[name].shape}, expected "
                                 f"{(filled, *array.shape[1:])}")
        if arrays["running_start"].shape != self.running_start.shape:
            raise ValueError("the saved HER replay buffer's episode starts do not fit its env count")
        for name, array in targets.items():
            array[:filled] = arrays[name]
        self.running_start[:] = arrays["running_start"]
        self.steps = steps
        self.sampleable = int(info["sampleable"])
        self.rng.bit_generator.state = info["rng"]


def local_goal_env(venv: Any) -> gymnasium.Env:
    """An instance of `venv`'s env in this process, for its `compute_reward` and spec: the first env of a
    DummyVecEnv, else one made from the spec the workers report."""
    inner: Any = venv
    while hasattr(inner, "venv"):  # VecEnv wrappers
        inner = inner.venv
    envs = getattr(inner, "envs", None)
    if envs:
        return envs[0]
    spec = venv.get_attr("spec", [0])[0] if hasattr(venv, "get_attr") else None
    if spec is None:
        raise ValueError("HER needs the env's compute_reward in the learner's process: give a DummyVecEnv, a "
                         "VecEnv made by make_vec_env, or a registered env (with a spec)")
    # without the wrappers make_env added in the workers (ClipActionsWrapper cannot be rebuilt from a spec, and
    # compute_reward is the env's own)
    return gymnasium.make(dataclasses.replace(spec, additional_wrappers=()))



def replay_factory(venv: Any, replay_buffer_class: Any, replay_buffer_kwargs: Mapping[str, Any] | None
                   ) -> Callable[..., Any] | None:
    """The replay memory SAC and TD3 train on, as stable-baselines3's `replay_buffer_class`/`replay_buffer_kwargs`:
    None (their uniform Memory) or HerReplayBuffer (given as the class or its name), bound to `venv`'s goal env and
    its episode length; ArgumentError (a usage error on the command line) for anything else, bad
    replay_buffer_kwargs, or HER on an env without goals."""
    if replay_buffer_class is None:
        if replay_buffer_kwargs:
            raise ArgumentError("replay_buffer_kwargs were given without replay_buffer_class")
        return None
    if getattr(replay_buffer_class, "__name__", replay_buffer_class) not in REPLAY_BUFFER_NAMES:
        raise ArgumentError(f"replay_buffer_class must be None or HerReplayBuffer (or the name "
                            f"{REPLAY_BUFFER_NAMES[0]!r}), got {replay_buffer_class!r}")
    if not is_goal_space(venv.observation_space):
        problem = describe_goal_space_problem(venv.observation_space)
        raise ArgumentError(f"HerReplayBuffer needs a goal-based env: {problem}")
    options = dict(replay_buffer_kwargs or {})
    try:
        check_her_replay_kwargs(options, replay_buffer_class)
    except ValueError as err:
        raise ArgumentError(str(err)) from None
    goal_env = local_goal_env(venv)
    compute_reward = goal_env.unwrapped.compute_reward  # type: ignore[attr-defined]
    episode_length = getattr(goal_env.spec, "max_episode_steps", None) or None  # checked against the buffer's size
    return functools.partial(HerReplayBuffer, observation_space=venv.observation_space, num_envs=venv.num_envs,
                             compute_reward=compute_reward, episode_length=episode_length, **options)


class WithDemonstrations:
    """A replay memory whose batches end with `demo_batch_size` transitions of demonstrations (baselines' HER with
    demo_file: the rest of each batch comes from the agent's own memory). Both parts get hindsight goals; the
    actor's cloning loss reads the demonstration rows at the end of the batch."""

    def __init__(self, memory: HerReplayBuffer, demonstrations: HerReplayBuffer, demo_batch_size: int) -> None:
        self.memory = memory
        self.demonstrations = demonstrations
        self.demo_batch_size = demo_batch_size
        self.num_envs = memory.num_envs

    @property
    def nb_entries(self) -> int:
        """The agent's own sampleable transitions (training starts on them, as without demonstrations)."""
        return self.memory.nb_entries

    def store(self, *args: Any) -> None:
        """Store a VecEnv step in the agent's own memory."""
        self.memory.store(*args)

    def end_episodes(self) -> None:
        """See HerReplayBuffer.end_episodes."""
        self.memory.end_episodes()

    def sample(self, batch_size: int, newest: int | None = None) -> dict[str, np.ndarray]:
        """`batch_size - demo_batch_size` transitions of the agent's then `demo_batch_size` demonstrated ones; with
        `newest` (the statistics' sample of the last cycle), the agent's own only."""
        if newest is not None:
            return self.memory.sample(batch_size, newest)
        own = self.memory.sample(batch_size - self.demo_batch_size)
        demo = self.demonstrations.sample(self.demo_batch_size)
        return {key: np.concatenate([own[key], demo[key]]) for key in own}

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The agent's own memory (the demonstrations are read again from the demo file)."""
        return self.memory.state()

    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """See HerReplayBuffer.load_state."""
        self.memory.load_state(info, arrays)
