"""Sum and min segment trees (baselines' API) for prioritized replay, vectorized over batches of indices.

A tree over `capacity` leaves (a power of two) lives in one array: node 1 is the root, node i has children
2i and 2i + 1, and leaf j is node capacity + j. Updates, range reductions and prefix-sum searches cost
O(log capacity); batched updates and searches walk the levels with NumPy instead of looping per element.
"""

from __future__ import annotations

import operator
from typing import Callable, overload

import numpy as np
import numpy.typing as npt

from baselines_tf2.common.validation import require_fits_in_memory

__all__ = ["SegmentTree", "SumSegmentTree", "MinSegmentTree"]

# find_prefixsum_idx accepts prefix sums this far (relative) above the total, to absorb the caller's rounding.
PREFIXSUM_RELATIVE_SLACK = 1e-9
# find_prefixsum_idx searches the top SHORTCUT_LEVEL levels at once, through the running sums of the
# 2**SHORTCUT_LEVEL nodes below them: one cumsum of 1,024 values costs less than 10 batched level steps.
SHORTCUT_LEVEL = 10


class SegmentTree:
    """A binary tree of `operation` reductions over `capacity` leaves, all initially `neutral_element`.

    `operation` must be an associative, commutative NumPy ufunc whose identity is `neutral_element`
    (np.add with 0.0, np.minimum with inf).
    """

    def __init__(self, capacity: int, operation: np.ufunc, neutral_element: float) -> None:
        if (
            isinstance(capacity, bool)
            or not isinstance(capacity, (int, np.integer))
            or capacity < 1
            or capacity & (capacity - 1)
        ):
            raise ValueError(f"capacity must be a positive power of two (1, 2, 4, ...), got {capacity!r}")
        self._capacity = int(capacity)
        self._depth = self._capacity.bit_length() - 1
        self._operation = operation
        self._scalar_operation: Callable[[float, float], float] = operation
        self._neutral_element = float(neutral_element)
        require_fits_in_memory(f"a segment tree of {self._capacity:,} leaves (prioritized replay's buffer_size, "
                               "rounded up to a power of two)", (2 * self._capacity,), 8)
        self._value = np.full(2 * self._capacity, self._neutral_element, dtype=np.float64)
        # Row p holds nodes (2p, 2p + 1): the two children of node p, as one gather.
        self._children = self._value.reshape(self._capacity, 2)

    @property
    def values(self) -> np.ndarray:
        """Every node of the tree (the root at 1, leaves from `capacity` on); writable in place, for checkpoints."""
        return self._value

    @property
    def capacity(self) -> int:
        """Number of leaves."""
        return self._capacity

    @property
    def nbytes(self) -> int:
        """Bytes of the node array."""
        return self._value.nbytes

    def reduce(self, start: int = 0, end: int | None = None) -> float:
        """operation(arr[start], ..., arr[end - 1]); `end` is exclusive, negative bounds count from the end
        as in Python slices, and an empty range gives the neutral element."""
        start, end = self._range(start, end)
        if start == 0 and end == self._capacity:
            return float(self._value[1])
        result = self._neutral_element
        low, high = start + self._capacity, end + self._capacity
        while low < high:
            if low & 1:
                result = self._scalar_operation(result, self._value[low])
                low += 1
            if high & 1:
                high -= 1
                result = self._scalar_operation(result, self._value[high])
            low >>= 1
            high >>= 1
        return float(result)

    @overload
    def __getitem__(self, idx: int | np.integer) -> float: ...
    @overload
    def __getitem__(self, idx: npt.ArrayLike) -> np.ndarray: ...

    def __getitem__(self, idx: npt.ArrayLike) -> float | np.ndarray:
        """The leaf value at `idx` (a float), or at each index of an index array (a float64 array)."""
        leaves = self._leaf_nodes(idx)
        if leaves.ndim == 0:
            return float(self._value[leaves])
        return self._value[leaves]

    def __setitem__(self, idx: npt.ArrayLike, val: npt.ArrayLike) -> None:
        """Set one leaf or many (`val` broadcast to `idx`), then refresh their ancestors level by level.

        With a repeated index the last value wins, as with one assignment after another.
        """
        leaves = self._leaf_nodes(idx)
        values = np.broadcast_to(np.asarray(val, dtype=np.float64), leaves.shape)
        self._check_values(values)
        if leaves.ndim == 0:
            self._set_one(int(leaves), float(values))
            return
        leaves, values = leaves.ravel(), values.ravel()
        if leaves.size > 1:
            unique_leaves, last_positions = np.unique(leaves[::-1], return_index=True)
            leaves, values = unique_leaves, values[::-1][last_positions]
        self._value[leaves] = values
        nodes = leaves
        for _ in range(self._depth):
            nodes = nodes >> 1
            children = self._children[nodes]
            self._value[nodes] = self._operation(children[:, 0], children[:, 1])

    def _set_one(self, node: int, value: float) -> None:
        """Scalar update with Python-level arithmetic: several times faster than NumPy calls for one leaf."""
        tree, combine = self._value, self._scalar_operation
        tree[node] = value
        node >>= 1
        while node:
            tree[node] = combine(tree[2 * node], tree[2 * node + 1])
            node >>= 1

    def _check_values(self, values: np.ndarray) -> None:
        """Reject values the reduction can't hold (NaN for every tree)."""
        if np.isnan(values).any():
            raise ValueError(f"{type(self).__name__} values must not be NaN, got {values}")

    def _leaf_nodes(self, idx: npt.ArrayLike) -> np.ndarray:
        """Node numbers of leaf indices, which must be integers in [0, capacity)."""
        indices = np.asarray(idx)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"segment tree indices must be integers, got {indices.dtype} ({idx!r})")
        if indices.size and (indices.min() < 0 or indices.max() >= self._capacity):
            raise IndexError(f"segment tree indices must lie in [0, {self._capacity}), got {idx!r}")
        return indices.astype(np.int64) + self._capacity

    def _range(self, start: int, end: int | None) -> tuple[int, int]:
        """Normalize slice-style bounds to 0 <= start <= end <= capacity."""
        end = self._capacity if end is None else int(end)
        start = int(start)
        if start < 0:
            start += self._capacity
        if end < 0:
            end += self._capacity
        if not 0 <= start <= end <= self._capacity:
            raise IndexError(f"range [{start}, {end}) is not inside [0, {self._capacity}] with start <= end")
        return start, end


class SumSegmentTree(SegmentTree):
    """Sums of non-negative leaves, with `find_prefixsum_idx` for sampling proportionally to the leaves."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.add, 0.0)
        self._scalar_operation = operator.add

    def sum(self, start: int = 0, end: int | None = None) -> float:
        """arr[start] + ... + arr[end - 1] (exclusive end, slice-style bounds)."""
        return self.reduce(start, end)

    @overload
    def find_prefixsum_idx(self, prefixsum: float) -> int: ...
    @overload
    def find_prefixsum_idx(self, prefixsum: npt.ArrayLike) -> np.ndarray: ...

    def find_prefixsum_idx(self, prefixsum: npt.ArrayLike) -> int | np.ndarray:
        """The lowest i with arr[0] + ... + arr[i] > prefixsum, for each prefix sum in [0, sum()].

        The answer is always a leaf with a positive value: a prefix sum at (or, by rounding, past) the total
        gives the last positive leaf, and zero-valued leaves are never returned. Scalars give an int, arrays
        an int64 array of the same shape.
        """
        prefix = np.array(prefixsum, dtype=np.float64)
        total = float(self._value[1])
        if not total > 0.0:
            raise ValueError(f"find_prefixsum_idx needs a positive total, but the tree sums to {total}")
        limit = total * (1.0 + PREFIXSUM_RELATIVE_SLACK)
        if not np.all((prefix >= 0.0) & (prefix <= limit)):
            raise ValueError(f"prefix sums must lie in [0, {total}] (the tree's total), got {prefixsum!r}")
        flat = prefix.reshape(-1)
        leaves = self._descend(flat)
        stranded = self._value[leaves] <= 0.0
        if stranded.any():
            leaves[stranded] = self._descend_avoiding_empty(flat[stranded])
        indices = leaves - self._capacity
        return int(indices[0]) if prefix.ndim == 0 else indices.reshape(prefix.shape)

    def _descend(self, prefix: np.ndarray) -> np.ndarray:
        """Leaf nodes for all queries at once, each the first leaf whose running sum exceeds its prefix sum.

        The top levels are searched in one step, with a cumulative sum over the nodes of level
        SHORTCUT_LEVEL; below, each query steps right (spending the left sum) while the left sum <= what remains.
        Rounding can leave a query past its subtree's sum and strand it on a zero leaf; the caller redoes those.
        """
        level = min(self._depth, SHORTCUT_LEVEL)
        level_sums = self._value[1 << level : 2 << level]
        cumulative = np.cumsum(level_sums)
        first = np.minimum(np.searchsorted(cumulative, prefix, side="right"), (1 << level) - 1)
        remaining = prefix - (cumulative[first] - level_sums[first])
        nodes = first + (1 << level)
        for _ in range(self._depth - level):
            np.left_shift(nodes, 1, out=nodes)
            left_sums = self._value.take(nodes)
            go_right = left_sums <= remaining
            np.subtract(remaining, left_sums, out=remaining, where=go_right)
            nodes += go_right
        return nodes

    def _descend_avoiding_empty(self, remaining: np.ndarray) -> np.ndarray:
        """A level-by-level walk from the root that never steps into a zero-sum child, so it ends on a positive
        leaf (the last one, when rounding overshoots the total)."""
        remaining = remaining.copy()
        nodes = np.ones(remaining.shape, dtype=np.int64)
        for _ in range(self._depth):
            np.left_shift(nodes, 1, out=nodes)
            left_sums = self._value.take(nodes)
            go_right = (left_sums <= remaining) & (self._value.take(nodes + 1) > 0.0)
            np.subtract(remaining, left_sums, out=remaining, where=go_right)
            nodes += go_right
        return nodes

    def _check_values(self, values: np.ndarray) -> None:
        """Prefix-sum search needs finite, non-negative leaves."""
        if not np.all((values >= 0.0) & np.isfinite(values)):
            raise ValueError(f"SumSegmentTree values must be finite and non-negative, got {values}")


class MinSegmentTree(SegmentTree):
    """Minima of the leaves (empty leaves hold +inf)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.minimum, float("inf"))
        self._scalar_operation = min

    def min(self, start: int = 0, end: int | None = None) -> float:
        """min(arr[start], ..., arr[end - 1]) (exclusive end, slice-style bounds); inf for an empty range."""
        return self.reduce(start, end)
