"""Experience replay for DQN with baselines' API: uniform `ReplayBuffer` and proportional `PrioritizedReplayBuffer`.

Transitions live in preallocated NumPy rings. Frame-stacked observations (the LazyFrames of
`wrap_deepmind(frame_stack=True)`, or their stacked uint8 arrays) are detected at the first `add` and stored one
frame per step (see `replay_storage`), so a 1M-transition Atari buffer takes ~7.4 GB instead of ~56 GB, with
the same `add` / `sample` calls.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import numpy.typing as npt

from baselines_tf2.common.misc_util import seeded_generator
from baselines_tf2.common.segment_tree import MinSegmentTree, SumSegmentTree
from baselines_tf2.common.validation import require_fits_in_memory, require_int
from baselines_tf2.deepq.replay_storage import FrameStackObservations, TransitionObservations

__all__ = ["ReplayBuffer", "PrioritizedReplayBuffer"]

ObservationStorage = Union[TransitionObservations, FrameStackObservations]
Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _same_observation(obs: Any, other: Any) -> bool:
    """Whether two observations hold the same values (LazyFrames compared frame by frame, shared frames at once)."""
    if hasattr(obs, "frames") and hasattr(other, "frames"):
        return len(obs.frames) == len(other.frames) and all(
            a is b or np.array_equal(a, b) for a, b in zip(obs.frames, other.frames)
        )
    return np.array_equal(np.asarray(obs), np.asarray(other))


class ReplayBuffer:
    """The last `size` transitions, sampled uniformly with replacement (baselines' ReplayBuffer).

    The first `add` fixes the observation layout. LazyFrames (anything with `.frames`), and uint8 arrays
    (H, W, k*C) whose obs_tp1 is obs_t shifted by C channels, are stored one frame per step and rebuilt exactly
    on sampling, across episode starts and ring wrap-around; a later transition that breaks the shift relation
    converts the buffer to whole observations, so arbitrary arrays stay correct. All other observations are
    stored whole, like baselines. Frame storage assumes transitions arrive in env order (one env, as deepq
    adds them); each out-of-order obs_t costs up to k extra frames.

    `len(buffer)` counts the sampleable transitions: at most `size`, fewer if the frame ring has evicted the
    oldest stacks (only when episodes average under ~24 steps, ~48 with VecFrameStack's zero-padded starts).
    `seed` seeds sampling; None draws the seed from NumPy's global RNG, so seeding globally before construction
    makes sampling reproducible.
    """

    def __init__(self, size: int, seed: int | None = None) -> None:
        self._maxsize = require_int("size", size, minimum=1)
        # rewards (float32) and the two flags (bool) of every slot; the observations are checked at the first add
        require_fits_in_memory(f"a replay buffer of {self._maxsize:,} transitions (buffer_size)", (self._maxsize,),
                               np.dtype(np.float32).itemsize + 2)
        self._rng = seeded_generator(seed)
        self._observations: ObservationStorage | None = None
        self._actions: np.ndarray | None = None
        self._rewards = np.zeros(self._maxsize, np.float32)
        self._dones = np.zeros(self._maxsize, np.bool_)
        self._continues = np.zeros(self._maxsize, np.bool_)  # obs_t is the previous transition's obs_tp1
        self._previous_obs_tp1: Any = None
        self._num_added = 0
        self._oldest = 0  # add count of the oldest sampleable transition; slot = count % size

    def __len__(self) -> int:
        return self._num_added - self._oldest

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated storage (observations are allocated by the first add)."""
        arrays = [self._rewards, self._dones] + ([] if self._actions is None else [self._actions])
        observations = 0 if self._observations is None else self._observations.nbytes
        return observations + sum(array.nbytes for array in arrays)

    def add(self, obs_t: Any, action: Any, reward: float, obs_tp1: Any, done: bool) -> None:
        """Store one transition, evicting the oldest when full."""
        self._store(obs_t, action, reward, obs_tp1, done)

    kind = "uniform"

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything the buffer holds, as (JSON data, named arrays) for a checkpoint; `load_state` restores it."""
        info: dict[str, Any] = {
            "kind": self.kind, "size": self._maxsize, "num_added": self._num_added, "oldest": self._oldest,
            "rng": self._rng.bit_generator.state,
            "storage": None if self._observations is None else self._observations.kind,
        }
        arrays = {"rewards": self._rewards, "dones": self._dones, "continues": self._continues}
        if self._actions is not None:
            arrays["actions"] = self._actions
        if self._previous_obs_tp1 is not None:
            arrays["previous_obs_tp1"] = np.asarray(self._previous_obs_tp1)
        if self._observations is not None:
            info["storage_state"], storage_arrays = self._observations.state()
            arrays.update({f"storage/{name}": array for name, array in storage_arrays.items()})
        return info, arrays

    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what `state()` returned; ValueError if it came from another kind or size of buffer."""
        if info.get("kind") != self.kind or info.get("size") != self._maxsize:
            raise ValueError(f"the saved replay buffer is a {info.get('kind')} one of size {info.get('size')}; "
                             f"this run's is a {self.kind} one of size {self._maxsize} (buffer_size)")
        storage_arrays = {
            name[len("storage/"):]: array for name, array in arrays.items() if name.startswith("storage/")
        }
        storages = {store.kind: store for store in (TransitionObservations, FrameStackObservations)}
        storage = info.get("storage")
        self._observations = None if storage is None else storages[storage].from_state(
            self._maxsize, info.get("storage_state", {}), storage_arrays)
        for name in ("rewards", "dones", "continues"):
            getattr(self, f"_{name}")[...] = arrays[name]
        self._actions = np.array(arrays["actions"]) if "actions" in arrays else None
        self._previous_obs_tp1 = arrays.get("previous_obs_tp1")
        self._num_added, self._oldest = int(info["num_added"]), int(info["oldest"])
        self._rng.bit_generator.state = info["rng"]

    def sample(self, batch_size: int) -> Batch:
        """`batch_size` transitions drawn uniformly with replacement: (obses_t, actions, rewards, obses_tp1, dones).

        Observations come back as [batch_size, *obs_shape] in the stored dtype (uint8 for Atari), rewards and
        dones as float32.
        """
        return self._gather(self._uniform_indices(batch_size))

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """Slots of `batch_size` transitions drawn uniformly with replacement."""
        return self._uniform_indices(batch_size)

    def _uniform_indices(self, batch_size: int) -> np.ndarray:
        batch_size = self._checked_batch_size(batch_size)
        offsets = self._rng.integers(len(self), size=batch_size)
        return (self._oldest + offsets) % self._maxsize

    def n_step_batch(self, slots: np.ndarray, n_step: int, gamma: float) -> Batch:
        """(obses_t, actions, returns, obses_tpn, discounts) for n-step targets r + discount * max Q(obs_tpn).

        From each slot, up to `n_step` rewards of the same episode are summed with discounts gamma^k; the sum
        stops early at a terminal transition (discount 0), at an episode boundary that was not terminal (a
        time-limit cut, where the target bootstraps from that episode's last observation), or at the newest
        transition. With n_step = 1 this is the ordinary one-step batch, with discounts gamma * (1 - done).
        """
        n_step = require_int("n_step", n_step, minimum=1)
        slots = np.asarray(slots, dtype=np.int64)
        dones = self._dones[slots]
        returns = self._rewards[slots].astype(np.float32)
        discounts = (gamma * ~dones).astype(np.float32)
        last = slots.copy()
        alive = ~dones
        offsets = (slots - self._oldest) % self._maxsize
        for k in range(1, n_step):
            following = (slots + k) % self._maxsize
            step = alive & (offsets + k < len(self)) & self._continues[following]
            returns += np.where(step, discounts * self._rewards[following], 0.0).astype(np.float32)
            last = np.where(step, following, last)
            discounts = np.where(step, discounts * gamma * ~self._dones[following], discounts).astype(np.float32)
            alive = step & ~self._dones[following]
        assert self._observations is not None and self._actions is not None  # made by the first add
        obs_t, obs_tpn = self._observations.fetch(slots, last)
        return obs_t, self._actions[slots], returns, obs_tpn, discounts

    def valid_indices(self) -> np.ndarray:
        """Slots of the sampleable transitions, oldest first (the indices `_encode_sample` accepts)."""
        return (self._oldest + np.arange(len(self))) % self._maxsize

    def _encode_sample(self, idxes: npt.ArrayLike) -> Batch:
        """The transitions in slots `idxes` (baselines' name), which must be sampleable."""
        if len(self) == 0:
            raise ValueError("the replay buffer is empty; add transitions first")
        slots = np.asarray(idxes)
        if slots.ndim != 1 or slots.dtype.kind not in "iu":
            raise TypeError(f"idxes must be a 1-D array of integer slots, got {idxes!r}")
        if slots.size and (slots.min() < 0 or slots.max() >= self._maxsize or not self._sampleable(slots).all()):
            raise IndexError(f"idxes must be sampleable slots (see valid_indices()), got {idxes!r}")
        return self._gather(slots.astype(np.int64))

    def _gather(self, slots: np.ndarray) -> Batch:
        """The batch at `slots`, unchecked (callers pass sampleable slots)."""
        assert self._observations is not None and self._actions is not None  # made by the first add
        obs_t, obs_tp1 = self._observations.fetch(slots, slots)
        return obs_t, self._actions[slots], self._rewards[slots], obs_tp1, self._dones[slots].astype(np.float32)

    def _sampleable(self, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` hold a sampleable transition."""
        return (slots - self._oldest) % self._maxsize < len(self)

    def _checked_batch_size(self, batch_size: int) -> int:
        """`batch_size` as an int, after checking it and that there is something to sample."""
        batch_size = require_int("batch_size", batch_size, minimum=1)
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        return batch_size

    def _store(self, obs_t: Any, action: Any, reward: float, obs_tp1: Any, done: bool) -> tuple[int, np.ndarray]:
        """Write one transition; return its slot and the other slots that stopped being sampleable."""
        if self._observations is None:
            first_action = np.asarray(action)
            self._actions = np.zeros((self._maxsize, *first_action.shape), first_action.dtype)
        assert self._actions is not None  # made above by the first add, or restored by load_state
        action = np.asarray(action)
        if action.shape != self._actions.shape[1:] or not np.can_cast(action.dtype, self._actions.dtype, "same_kind"):
            raise ValueError(
                f"action {action!r} ({action.dtype}, shape {action.shape}) does not match the stored actions "
                f"({self._actions.dtype}, shape {self._actions.shape[1:]}, set by the first add)"
            )
        if self._observations is None:
            frame_store = FrameStackObservations.for_first(self._maxsize, obs_t, obs_tp1)
            self._observations = (
                TransitionObservations.for_first(self._maxsize, obs_t) if frame_store is None else frame_store
            )
        slot = self._num_added % self._maxsize
        if not self._observations.store(slot, obs_t, obs_tp1):
            assert isinstance(self._observations, FrameStackObservations)  # the only store that refuses transitions
            self._observations = TransitionObservations.copied_from(self._observations, self.valid_indices())
            self._observations.store(slot, obs_t, obs_tp1)
        self._actions[slot] = action
        self._rewards[slot] = reward
        self._dones[slot] = done
        self._continues[slot] = self._previous_obs_tp1 is not None and _same_observation(obs_t, self._previous_obs_tp1)
        self._previous_obs_tp1 = obs_tp1
        self._num_added += 1

        previous_oldest = self._oldest
        self._oldest = max(self._oldest, self._num_added - self._maxsize)
        while self._oldest < self._num_added and not self._observations.is_intact(self._oldest % self._maxsize):
            self._oldest += 1
        overwritten = self._num_added - 1 - self._maxsize
        stale = [count % self._maxsize for count in range(previous_oldest, self._oldest) if count != overwritten]
        return slot, np.array(stale, dtype=np.int64)


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016): P(i) = p_i^alpha / sum_k p_k^alpha.

    New transitions get the highest priority seen so far. Sampling covers every stored transition, the
    newest included (baselines' search range left out the last slot).
    """

    def __init__(self, size: int, alpha: float, seed: int | None = None) -> None:
        maxsize = require_int("size", size, minimum=1)
        tree_capacity = 1 << (maxsize - 1).bit_length()
        # both trees (2 float64 nodes per leaf each, written in full at once) with the slots' scalars
        require_fits_in_memory(f"a prioritized replay buffer of {maxsize:,} transitions (buffer_size)",
                               (tree_capacity,), 2 * 2 * 8 + np.dtype(np.float32).itemsize + 2)
        super().__init__(maxsize, seed)
        if not alpha >= 0.0:
            raise ValueError(f"alpha must be >= 0 (0 is uniform sampling), got {alpha!r}")
        self._alpha = float(alpha)
        self._it_sum = SumSegmentTree(tree_capacity)
        self._it_min = MinSegmentTree(tree_capacity)
        self._max_priority = 1.0

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated storage, the two priority trees included."""
        return super().nbytes + self._it_sum.nbytes + self._it_min.nbytes

    kind = "prioritized"

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        info, arrays = super().state()
        info.update(alpha=self._alpha, max_priority=self._max_priority)
        return info, {**arrays, "priority_sums": self._it_sum.values, "priority_mins": self._it_min.values}

    def load_state(self, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super().load_state(info, arrays)
        if info.get("alpha") != self._alpha:
            raise ValueError(f"the saved replay buffer has alpha {info.get('alpha')}, this run's is {self._alpha}")
        self._it_sum.values[...] = arrays["priority_sums"]
        self._it_min.values[...] = arrays["priority_mins"]
        self._max_priority = float(info["max_priority"])

    def add(self, obs_t: Any, action: Any, reward: float, obs_tp1: Any, done: bool) -> None:
        """Store one transition at the maximum priority so far."""
        slot, stale = self._store(obs_t, action, reward, obs_tp1, done)
        if stale.size:
            self._it_sum[stale] = 0.0
            self._it_min[stale] = float("inf")
        priority = self._max_priority**self._alpha
        self._it_sum[slot] = priority
        self._it_min[slot] = priority

    # baselines' API: beta is required and two more arrays come back, so this is not a drop-in ReplayBuffer.sample
    def sample(self, batch_size: int, beta: float) -> tuple[np.ndarray, ...]:  # type: ignore[override]
        """`batch_size` transitions drawn in proportion to priority^alpha, one per equal slice of the total.

        Returns (obses_t, actions, rewards, obses_tp1, dones, weights, idxes): weights (float32) are the
        importance weights (N * P(i))^-beta divided by their largest possible value, idxes the slots to pass to
        `update_priorities`.
        """
        slots, weights = self.sample_indices(batch_size, beta)
        return (*self._gather(slots), weights, slots)

    def sample_indices(self, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """(slots, importance weights) of `batch_size` transitions drawn in proportion to priority^alpha."""
        batch_size = self._checked_batch_size(batch_size)
        if not beta >= 0.0:
            raise ValueError(f"beta must be >= 0 (0 disables importance correction), got {beta!r}")
        total = self._it_sum.sum()
        masses = (np.arange(batch_size) + self._rng.random(batch_size)) * (total / batch_size)
        slots = self._it_sum.find_prefixsum_idx(masses)
        # (N P(i))^-beta / max_j (N P(j))^-beta = (P(i) / P_min)^-beta = (p_i / p_min)^-beta
        weights = (self._it_sum[slots] / self._it_min.min()) ** -beta
        return slots, weights.astype(np.float32)

    def update_priorities(self, idxes: npt.ArrayLike, priorities: npt.ArrayLike) -> None:
        """Set the priorities (> 0) of sampled slots; slots that left the buffer since sampling are skipped."""
        slots = np.asarray(idxes)
        values = np.asarray(priorities, dtype=np.float64)
        if slots.ndim != 1 or slots.dtype.kind not in "iu":
            raise TypeError(f"idxes must be a 1-D array of integer slots, got {idxes!r}")
        if values.shape != slots.shape:
            raise ValueError(f"got {values.size} priorities for {slots.size} idxes; pass one priority per index")
        if not np.all((values > 0.0) & np.isfinite(values)):
            raise ValueError(f"priorities must be positive and finite (e.g. |TD error| + 1e-6), got {values}")
        if slots.size and (slots.min() < 0 or slots.max() >= self._maxsize):
            raise IndexError(f"idxes must lie in [0, {self._maxsize}), got {idxes!r}")
        live = self._sampleable(slots)
        scaled = values[live] ** self._alpha
        self._it_sum[slots[live]] = scaled
        self._it_min[slots[live]] = scaled
        if values.size:
            self._max_priority = max(self._max_priority, float(values.max()))
