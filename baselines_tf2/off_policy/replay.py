"""The replay memory of the continuous-control learners (baselines' `ddpg.memory.Memory`): preallocated float32
NumPy rings, sampled uniformly with replacement. No TensorFlow here."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from baselines_tf2.common.misc_util import seeded_generator
from baselines_tf2.common.validation import require_fits_in_memory, require_int

FIELDS = ("obs0", "actions", "rewards", "obs1", "terminals1")


class Memory:
    """The last `limit` transitions (obs0, action, reward, obs1, terminal1), with baselines' API.

    `sample` returns baselines' dict: 'obs0', 'obs1' [B, *obs], 'actions' [B, *action], 'rewards' and 'terminals1'
    [B, 1], all float32. `terminal1` is 1 only where the episode really ended (not a time-limit cut), so targets
    bootstrap through truncation. `seed` seeds sampling. `flatten` turns a batch of an env's observations into rows
    of `observation_shape` in `store` (a goal env's dict into concat(observation, desired_goal)).
    """

    def __init__(self, limit: int, action_shape: tuple[int, ...], observation_shape: tuple[int, ...],
                 seed: int | None = None, flatten: Callable[[Any], np.ndarray] | None = None) -> None:
        self.limit = require_int("limit", limit, minimum=1)
        self.observation_shape = tuple(observation_shape)
        self.flatten = flatten
        self.rng = seeded_generator(seed)
        shapes = {"obs0": observation_shape, "actions": action_shape, "rewards": (1,), "obs1": observation_shape,
                  "terminals1": (1,)}
        row = sum(math.prod(shape) for shape in shapes.values())
        require_fits_in_memory(f"a replay memory of {self.limit:,} transitions (limit, the CLI's buffer_size)",
                               (self.limit, row), np.dtype(np.float32).itemsize)
        self.arrays = {name: np.zeros((self.limit, *shape), np.float32) for name, shape in shapes.items()}
        self.added = 0  # transitions appended over the memory's life; the next goes to slot added % limit

    @property
    def nb_entries(self) -> int:
        """Transitions that can be sampled."""
        return min(self.added, self.limit)

    def __len__(self) -> int:
        return self.nb_entries

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated rings."""
        return sum(array.nbytes for array in self.arrays.values())

    def append(self, obs0: Any, action: Any, reward: float, obs1: Any, terminal1: bool, training: bool = True) -> None:
        """Store one transition, evicting the oldest when full (`training=False` stores nothing, as baselines)."""
        if training:
            self.append_batch(np.asarray(obs0)[None], np.asarray(action)[None], np.asarray([reward]),
                              np.asarray(obs1)[None], np.asarray([terminal1]))

    def append_batch(self, obs0: np.ndarray, actions: np.ndarray, rewards: np.ndarray, obs1: np.ndarray,
                     terminals1: np.ndarray) -> None:
        """Store one transition per row (one per env of a VecEnv step)."""
        count = len(obs0)
        if count > self.limit:  # only the newest `limit` rows survive
            obs0, actions, rewards, obs1, terminals1 = (a[-self.limit:] for a in (obs0, actions, rewards, obs1,
                                                                                    terminals1))
            self.added += count - self.limit
            count = self.limit
        slots = (self.added + np.arange(count)) % self.limit
        values = (obs0, actions, np.reshape(rewards, (-1, 1)), obs1, np.reshape(terminals1, (-1, 1)))
        for name, value in zip(FIELDS, values):
            self.arrays[name][slots] = value
        self.added += count

    def store(self, obs0: Any, actions: np.ndarray, rewards: np.ndarray, obs1: Any, terminals1: np.ndarray,
              dones: np.ndarray, infos: Any) -> None:
        """One VecEnv step (the training loop's call): a transition per env."""
        count = len(actions)
        rows = [self.flatten(obs) if self.flatten is not None else np.asarray(obs, np.float32)
                for obs in (obs0, obs1)]
        obs0_rows, obs1_rows = (np.asarray(row, np.float32).reshape(count, *self.observation_shape) for row in rows)
        self.append_batch(obs0_rows, actions, rewards, obs1_rows, terminals1)

    def end_episodes(self) -> None:
        """The envs were reset mid-episode; transitions carry no episode structure here, so nothing to do."""

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """`batch_size` transitions drawn uniformly with replacement, as baselines' dict of float32 arrays."""
        if self.nb_entries == 0:
            raise ValueError("cannot sample from an empty replay memory")
        slots = self.rng.integers(self.nb_entries, size=batch_size)
        return {name: array[slots] for name, array in self.arrays.items()}

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able info, arrays) that `load_state` restores: only the filled slots are stored."""
        filled = self.nb_entries
        return ({"limit": self.limit, "added": self.added, "rng": self.rng.bit_generator.state},
                {name: array[:filled] for name, array in self.arrays.items()})

    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Take back `state()`; ValueError if it was saved with another capacity or other shapes."""
        if int(info["limit"]) != self.limit:
            raise ValueError(f"the saved replay memory holds {info['limit']} transitions, this one {self.limit}")
        added = int(info["added"])
        filled = min(added, self.limit)
        for name, array in self.arrays.items():
            saved = arrays[name]
            if saved.shape != (filled, *array.shape[1:]):
                raise ValueError(f"the saved replay field {name!r} has shape {saved.shape}, expected "
                                 f"{(filled, *array.shape[1:])}")
        for name, array in self.arrays.items():
            array[:filled] = arrays[name]
        self.added = added
        self.rng.bit_generator.state = info["rng"]
