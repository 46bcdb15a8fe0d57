"""Observation storage for the replay buffers: whole observations, or frame stacks kept one frame at a time.

A 1M-transition Atari buffer of whole 84x84x4 stacks (obs_t and obs_tp1) takes ~56 GB; storing each frame
once takes ~7.4 GB. Both stores live in preallocated NumPy arrays made with np.zeros, which Linux maps lazily,
so a large buffer only costs the memory it has filled.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numpy.typing import DTypeLike

from baselines_tf2.common.validation import require_fits_in_memory

__all__ = ["TransitionObservations", "FrameStackObservations", "SPARE_FRAMES_DIVISOR"]

# The frame ring holds capacity + capacity // SPARE_FRAMES_DIVISOR frames. An episode start costs one frame
# beyond the one per step (FrameStack repeats the first frame), or two with VecFrameStack (a blank frame and the
# first frame), so the spare frames keep `capacity` transitions sampleable while episodes average at least 24
# (48) steps; shorter episodes evict the oldest transitions early. 24 keeps Atari within 7,500 bytes/transition.
SPARE_FRAMES_DIVISOR = 24
MIGRATION_CHUNK = 1024


def _checked_array(obs: Any, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """`obs` as an array, which must have the stored shape and a dtype that casts to the stored one within its kind."""
    array = np.asarray(obs)
    if array.shape != shape:
        raise ValueError(
            f"{name} has shape {array.shape}, but this buffer stores observations of shape {shape} "
            "(set by the first add)"
        )
    if not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise TypeError(
            f"{name} has dtype {array.dtype}, which does not fit the stored dtype {dtype} (set by the first add)"
        )
    return array


def _require_rows(array: np.ndarray, rows: int, name: str) -> None:
    if array.shape[:1] != (rows,):
        raise ValueError(f"saved replay array {name!r} has shape {array.shape}; a buffer of {rows} needs {rows} rows")


def _same_frame(frame: np.ndarray, other: np.ndarray) -> bool:
    """Equal content; the same read-only array (as LazyFrames share) counts as equal without comparing pixels."""
    return (frame is other and not frame.flags.writeable) or np.array_equal(frame, other)


class TransitionObservations:
    """obs_t and obs_tp1 of every slot, whole and as given: baselines' layout, for observations that aren't frame
    stacks."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], dtype: DTypeLike) -> None:
        self.obs_shape = tuple(obs_shape)
        self.dtype = np.dtype(dtype)
        require_fits_in_memory(f"a replay buffer of {capacity:,} transitions (buffer_size)",
                               (2, capacity, *self.obs_shape), self.dtype.itemsize)
        self._obs_t = np.zeros((capacity, *self.obs_shape), self.dtype)
        self._obs_tp1 = np.zeros((capacity, *self.obs_shape), self.dtype)

    @classmethod
    def for_first(cls, capacity: int, obs_t: Any) -> TransitionObservations:
        """A store shaped and typed like the first observation."""
        first = np.asarray(obs_t)
        return cls(capacity, first.shape, first.dtype)

    @classmethod
    def copied_from(cls, source: FrameStackObservations, slots: np.ndarray) -> TransitionObservations:
        """A whole-observation copy of `source`'s `slots` (the other slots stay zero)."""
        store = cls(source.capacity, source.obs_shape, source.dtype)
        for start in range(0, len(slots), MIGRATION_CHUNK):
            chunk = slots[start : start + MIGRATION_CHUNK]
            obs_t, obs_tp1 = source.fetch(chunk, chunk)
            store._obs_t[chunk] = obs_t
            store._obs_tp1[chunk] = obs_tp1
        return store

    @property
    def nbytes(self) -> int:
        """Bytes allocated for observations."""
        return self._obs_t.nbytes + self._obs_tp1.nbytes

    def store(self, slot: int, obs_t: Any, obs_tp1: Any) -> bool:
        """Copy both observations into `slot`; always succeeds (True)."""
        self._obs_t[slot] = _checked_array(obs_t, "obs_t", self.obs_shape, self.dtype)
        self._obs_tp1[slot] = _checked_array(obs_tp1, "obs_tp1", self.obs_shape, self.dtype)
        return True

    def fetch(self, slots_t: np.ndarray, slots_tp1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """obs_t of `slots_t` and obs_tp1 of `slots_tp1` (the same slots, or later ones for n-step targets)."""
        return self._obs_t[slots_t], self._obs_tp1[slots_tp1]

    def is_intact(self, slot: int) -> bool:
        """Whole observations never go stale."""
        return True

    kind = "transitions"

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON data, named arrays) that `from_state` rebuilds this store from."""
        return {}, {"obs_t": self._obs_t, "obs_tp1": self._obs_tp1}

    @classmethod
    def from_state(cls, capacity: int, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> TransitionObservations:
        obs_t, obs_tp1 = arrays["obs_t"], arrays["obs_tp1"]
        _require_rows(obs_t, capacity, "obs_t")
        store = cls(capacity, obs_t.shape[1:], obs_t.dtype)
        store._obs_t[...] = obs_t
        store._obs_tp1[...] = obs_tp1
        return store


def ring_size(capacity: int, frames_per_stack: int) -> int:
    """Frames a FrameStackObservations of `capacity` stacks keeps: a stack's oldest frame is at most 2k pushes old
    when it is added (an episode start pushes up to k + 1), plus spare frames."""
    return capacity + max(capacity // SPARE_FRAMES_DIVISOR, 2 * frames_per_stack)


class FrameStackObservations:
    """Stacks of k frames (H x W x C each, stacked on the last axis), each frame stored once in a ring of frames.

    Slot s records k + 1 frame positions p_0 <= ... <= p_k (counts of frames pushed, so they never repeat):
    obs_t is frames p_0..p_{k-1} and obs_tp1 is p_1..p_k. A transition whose obs_t equals the previous one's
    obs_tp1 reuses those positions and pushes only its new frame. Any other obs_t (an episode start, where
    FrameStack repeats the first frame k times) pushes its own frames, one per run of equal neighbours.
    Frames are matched by content (or as the same read-only array), never by the done flag, so every stack
    comes back exactly as it was added. A slot stays intact while its oldest frame is still in the ring.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...], frames_per_stack: int, dtype: DTypeLike) -> None:
        self.capacity = capacity
        self.frame_shape = tuple(frame_shape)
        self.frames_per_stack = frames_per_stack
        self.obs_shape = (*self.frame_shape[:-1], frames_per_stack * self.frame_shape[-1])
        self.dtype = np.dtype(dtype)
        self._ring_size = ring_size(capacity, frames_per_stack)
        require_fits_in_memory(f"a replay buffer of {capacity:,} transitions (buffer_size)",
                               (self._ring_size, *self.frame_shape), self.dtype.itemsize)
        self._frames = np.zeros((self._ring_size, *self.frame_shape), self.dtype)
        self._positions = np.zeros((capacity, frames_per_stack + 1), np.int64)
        self._frames_pushed = 0
        self._last_positions: tuple[int, ...] | None = None
        self._last_frames: tuple[np.ndarray, ...] = ()

    @classmethod
    def for_first(cls, capacity: int, obs_t: Any, obs_tp1: Any) -> FrameStackObservations | None:
        """A frame store if the first transition holds frame stacks, else None.

        Frame stacks are LazyFrames (anything with a `.frames` sequence of equally shaped arrays), or uint8
        arrays (H, W, k*C) with k >= 2 where obs_tp1[..., :-C] == obs_t[..., C:] for the smallest such C.
        """
        frames = getattr(obs_t, "frames", None)
        if frames is not None:
            if len(frames) == 0 or not all(isinstance(frame, np.ndarray) and frame.ndim >= 1 for frame in frames):
                return None
            if any(frame.shape != frames[0].shape or frame.dtype != frames[0].dtype for frame in frames):
                return None
            return cls(capacity, frames[0].shape, len(frames), frames[0].dtype)
        first, following = np.asarray(obs_t), np.asarray(obs_tp1)
        if first.dtype != np.uint8 or first.ndim != 3 or following.shape != first.shape:
            return None
        channels = first.shape[-1]
        for frame_channels in range(1, channels // 2 + 1):
            if channels % frame_channels == 0 and np.array_equal(
                following[..., :-frame_channels], first[..., frame_channels:]
            ):
                return cls(capacity, (*first.shape[:-1], frame_channels), channels // frame_channels, np.uint8)
        return None

    @property
    def nbytes(self) -> int:
        """Bytes allocated for frames and frame positions."""
        return self._frames.nbytes + self._positions.nbytes

    def store(self, slot: int, obs_t: Any, obs_tp1: Any) -> bool:
        """Record the transition's stacks in `slot`; False (storing nothing) if obs_tp1 is not obs_t shifted by one
        frame."""
        frames_t = self._split(obs_t, "obs_t")
        frames_tp1 = self._split(obs_tp1, "obs_tp1")
        if not all(_same_frame(later, earlier) for later, earlier in zip(frames_tp1[:-1], frames_t[1:])):
            return False
        positions_t = self._continued_positions(frames_t)
        if positions_t is None:
            positions_t = self._push_stack(frames_t)
        newest = self._push(frames_tp1[-1])
        self._positions[slot, :-1] = positions_t
        self._positions[slot, -1] = newest
        self._last_positions = (*positions_t[1:], newest)
        self._last_frames = frames_tp1
        return True

    def fetch(self, slots_t: np.ndarray, slots_tp1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """obs_t of `slots_t` and obs_tp1 of `slots_tp1` (the same slots, or later ones for n-step targets), intact
        slots only, rebuilt from the frame ring and shaped [len(slots), *obs_shape]."""
        return self._stacks(self._positions[slots_t, :-1]), self._stacks(self._positions[slots_tp1, 1:])

    def _stacks(self, positions: np.ndarray) -> np.ndarray:
        """The stacks made of the frames at `positions` [count, k], oldest frame first."""
        count, k = positions.shape
        pixels, channels = math.prod(self.frame_shape[:-1]), self.frame_shape[-1]
        frames = self._frames[(positions % self._ring_size).ravel()].reshape(count, k, pixels, channels)
        stacks = np.empty((count, pixels, k, channels), self.dtype)
        for j in range(k):
            stacks[:, :, j] = frames[:, j]
        return stacks.reshape(count, *self.obs_shape)

    def is_intact(self, slot: int) -> bool:
        """Whether all frames of the slot's stacks are still in the ring."""
        return int(self._positions[slot, 0]) >= self._frames_pushed - self._ring_size

    def _split(self, obs: Any, name: str) -> tuple[np.ndarray, ...]:
        """The k frames of a stack: a LazyFrames' own frame arrays, or views into a stacked array."""
        frames = getattr(obs, "frames", None)
        if (
            frames is not None
            and len(frames) == self.frames_per_stack
            and all(isinstance(frame, np.ndarray) and frame.shape == self.frame_shape for frame in frames)
        ):
            for frame in frames:
                if not np.can_cast(frame.dtype, self.dtype, casting="same_kind"):
                    raise TypeError(
                        f"{name} has frames of dtype {frame.dtype}, which do not fit the stored dtype {self.dtype}"
                    )
            return tuple(frames)
        stacked = _checked_array(obs, name, self.obs_shape, self.dtype)
        width = self.frame_shape[-1]
        return tuple(stacked[..., j * width : (j + 1) * width] for j in range(self.frames_per_stack))

    def _continued_positions(self, frames_t: Sequence[np.ndarray]) -> tuple[int, ...] | None:
        """The previous obs_tp1's positions when obs_t is that same stack again, else None."""
        if self._last_positions is None:
            return None
        for frame, last_frame, position in zip(frames_t, self._last_frames, self._last_positions):
            if not (frame is last_frame and not frame.flags.writeable) and not np.array_equal(
                frame, self._frames[position % self._ring_size]
            ):
                return None
        return self._last_positions

    def _push_stack(self, frames: Sequence[np.ndarray]) -> tuple[int, ...]:
        """Push a stack's frames, sharing one position between equal neighbours (a reset's repeated first frame)."""
        positions: list[int] = []
        for j, frame in enumerate(frames):
            if j and _same_frame(frame, frames[j - 1]):
                positions.append(positions[-1])
            else:
                positions.append(self._push(frame))
        return tuple(positions)

    kind = "frames"

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON data, named arrays) that `from_state` rebuilds this store from."""
        info = {"frame_shape": list(self.frame_shape), "frames_per_stack": self.frames_per_stack,
                "frames_pushed": self._frames_pushed,
                "last_positions": None if self._last_positions is None else [int(p) for p in self._last_positions]}
        arrays = {"frames": self._frames, "positions": self._positions}
        if self._last_frames:
            arrays["last_frames"] = np.stack(self._last_frames)
        return info, arrays

    @classmethod
    def from_state(cls, capacity: int, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> FrameStackObservations:
        frames = arrays["frames"]
        frame_shape, frames_per_stack = tuple(int(size) for size in info["frame_shape"]), int(info["frames_per_stack"])
        # checked before the buffer is built: a forged frame shape must not size an allocation the file does not hold
        ring = (ring_size(capacity, frames_per_stack), *frame_shape)
        if frames.shape != ring or arrays["positions"].shape != (capacity, frames_per_stack + 1):
            raise ValueError(f"saved frame ring {frames.shape} / positions {arrays['positions'].shape} do not fit a "
                             f"buffer of {capacity} ({ring} / {(capacity, frames_per_stack + 1)})")
        store = cls(capacity, frame_shape, frames_per_stack, frames.dtype)
        store._frames[...] = frames
        store._positions[...] = arrays["positions"]
        store._frames_pushed = int(info["frames_pushed"])
        last = info["last_positions"]
        store._last_positions = None if last is None else tuple(int(p) for p in last)
        store._last_frames = tuple(arrays["last_frames"]) if "last_frames" in arrays else ()
        return store

    def _push(self, frame: np.ndarray) -> int:
        """Copy one frame into the ring; return its position."""
        position = self._frames_pushed
        self._frames[position % self._ring_size] = frame
        self._frames_pushed += 1
        return position
