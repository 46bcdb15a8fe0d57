"""Observation batches in shared memory: workers write their envs' rows in place, the parent copies the batch out."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory

import gymnasium
import numpy as np

from baselines_tf2.common.vec_env.util import ObsBuffers, obs_space_info


@dataclass(frozen=True)
class SharedObsBlock:
    """One observation key's batch: the shared memory block's name and the array laid over it."""

    key: str | None
    memory_name: str
    shape: tuple[int, ...]
    dtype: str


class SharedObsBuffers(ObsBuffers):
    """ObsBuffers whose arrays live in named shared memory: the parent creates them, workers attach by name.

    Only the storage differs from ObsBuffers; `write` and `copy` are inherited. The parent owns the blocks and
    unlinks them on `close()` (or at interpreter exit if it never closes).
    """

    def __init__(self, blocks: tuple[SharedObsBlock, ...], memories: list[SharedMemory], *, owner: bool) -> None:
        self.blocks = blocks
        self._memories = memories
        self.buffers = {
            block.key: np.ndarray(block.shape, dtype=np.dtype(block.dtype), buffer=memory.buf)
            for block, memory in zip(blocks, memories)
        }
        self._unlink = weakref.finalize(self, _unlink_all, memories if owner else [])

    @classmethod
    def create(cls, space: gymnasium.Space, num_envs: int) -> SharedObsBuffers:
        """New zeroed buffers of shape [num_envs, *obs_shape] per observation key (parent side)."""
        blocks, memories = [], []
        for key, (shape, dtype) in obs_space_info(space).items():
            nbytes = max(1, int(np.prod(shape)) * num_envs * dtype.itemsize)  # shared memory cannot be empty
            memory = SharedMemory(create=True, size=nbytes)
            memories.append(memory)
            blocks.append(SharedObsBlock(key, memory.name, (num_envs, *shape), dtype.str))
        return cls(tuple(blocks), memories, owner=True)

    @classmethod
    def attach(cls, blocks: tuple[SharedObsBlock, ...]) -> SharedObsBuffers:
        """The parent's buffers, opened by name (worker side)."""
        return cls(blocks, [SharedMemory(name=block.memory_name) for block in blocks], owner=False)

    def close(self) -> None:
        """Unmap the blocks, and unlink them if this process created them; safe to call more than once."""
        self.buffers = {}
        for memory in self._memories:
            memory.close()
        self._memories = []
        self._unlink()


def _unlink_all(memories: list[SharedMemory]) -> None:
    for memory in memories:
        memory.unlink()
