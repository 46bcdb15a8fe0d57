"""Minibatches over aligned arrays, as baselines' common.dataset (`Dataset`, `iterbatches`); NumPy only.

Shuffling takes an optional `np.random.Generator` (the run's, so a resumed run shuffles as an uninterrupted one);
without it NumPy's global generator is used, as in baselines.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from baselines_tf2.common.validation import require_int


def _permutation(size: int, rng: np.random.Generator | None) -> np.ndarray:
    return rng.permutation(size) if rng is not None else np.random.permutation(size)


def _common_length(arrays: Sequence[np.ndarray]) -> int:
    lengths = {len(array) for array in arrays}
    if len(lengths) != 1:
        raise ValueError(f"the arrays must have the same length, got lengths {sorted(lengths)}")
    return lengths.pop()


class Dataset:
    """Named arrays of equal length, served in (optionally shuffled) minibatches, as baselines' Dataset.

    `deterministic=True` never shuffles; otherwise the rows are shuffled once here and, with `shuffle=True`, again at
    each pass. The arrays are copied (baselines reordered the caller's dict in place).
    """

    def __init__(self, data_map: Mapping[str, np.ndarray], deterministic: bool = False, shuffle: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        self.data_map = {key: np.asarray(value) for key, value in data_map.items()}
        self.n = _common_length(list(self.data_map.values()))
        self.deterministic = deterministic
        self.enable_shuffle = shuffle
        self.rng = rng
        self._next_id = 0
        self.shuffle()

    def shuffle(self) -> None:
        """Reorder every array by one random permutation (nothing when deterministic)."""
        if self.deterministic:
            return
        order = _permutation(self.n, self.rng)
        self.data_map = {key: value[order] for key, value in self.data_map.items()}

    def next_batch(self, batch_size: int) -> dict[str, np.ndarray]:
        """The next `batch_size` rows (fewer at the end); after the last row, start over (reshuffled)."""
        require_int("batch_size", batch_size, minimum=1)
        if self._next_id >= self.n:
            self._next_id = 0
            if self.enable_shuffle:
                self.shuffle()
        start, self._next_id = self._next_id, min(self._next_id + batch_size, self.n)
        return {key: value[start:self._next_id] for key, value in self.data_map.items()}

    def iterate_once(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """One pass, from where `next_batch` left off, in full minibatches of `batch_size`; the rows left over
        (fewer than a batch) are not served, as in baselines."""
        require_int("batch_size", batch_size, minimum=1)
        if self.enable_shuffle:
            self.shuffle()
        for start in range(self._next_id, self.n - batch_size + 1, batch_size):
            yield {key: value[start:start + batch_size] for key, value in self.data_map.items()}
        self._next_id = 0

    def subset(self, num_elements: int, deterministic: bool = True) -> Dataset:
        """A Dataset of the first `num_elements` rows."""
        return Dataset({key: value[:num_elements] for key, value in self.data_map.items()}, deterministic)


def iterbatches(arrays: Sequence[np.ndarray], *, num_batches: int | None = None, batch_size: int | None = None,
                shuffle: bool = True, include_final_partial_batch: bool = True,
                rng: np.random.Generator | None = None) -> Iterator[tuple[Any, ...]]:
    """Tuples of aligned minibatches of `arrays`: `num_batches` near-equal batches, or batches of `batch_size`
    (exactly one of the two), the rows shuffled first unless `shuffle=False`."""
    if (num_batches is None) == (batch_size is None):
        raise ValueError("give exactly one of num_batches and batch_size")
    arrays = [np.asarray(array) for array in arrays]
    size = _common_length(arrays)
    order = _permutation(size, rng) if shuffle else np.arange(size)
    if num_batches is not None:
        chunks = np.array_split(order, num_batches)
    else:
        assert batch_size is not None
        chunks = [order[start:start + batch_size] for start in range(0, size, batch_size)]
    for chunk in chunks:
        if include_final_partial_batch or batch_size is None or len(chunk) == batch_size:
            yield tuple(array[chunk] for array in arrays)
